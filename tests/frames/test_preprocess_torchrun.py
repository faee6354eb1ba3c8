"""Preprocess through torchrun: hosts share the videos out, each decoded once, with the pool path's statuses and cache rule."""

import json
import socket
import threading

import numpy as np
import pandas as pd
import pytest

from tests.helpers import write_audio_only, write_indexed_video, write_truncated
from video_similarity import jobs
from video_similarity.atomic import TEMPORARY
from video_similarity.datasets.frame_archives import FrameArchiveStore
from video_similarity.frames.archive import ArchiveSettings, FrameArchive
from video_similarity.frames.preprocess import preprocess_videos
from video_similarity.frames.preprocess_job import WORK_FOLDER, DecodeJob, preprocess_with_torchrun
from video_similarity.launch import LaunchConfig, LaunchError
from video_similarity.pipelines.preprocess.nodes import decode_to_archives
from video_similarity.pipelines.preprocess.params import PreprocessParams

SETTINGS = ArchiveSettings(short_side=32)
PARAMS = {"short_side": 32, "workers": 1, "launcher": "torchrun"}  # one decoding process per rank: 2 cores here
TWO = LaunchConfig(nproc_per_node=2, threads_per_process=1)


def good_videos(folder, n):
    return {f"v{i}": write_indexed_video(folder / f"v{i}.mp4", 20 + i, 10.0, (64, 48)) for i in range(n)}


def as_index(paths: dict) -> pd.DataFrame:
    return pd.DataFrame([{"video_id": v, "split": "train", "role": "query", "path": str(p)} for v, p in paths.items()])


def statuses(manifest: pd.DataFrame) -> dict:
    return {r.video_id: (r.status, r.n_frames, r.error) for r in manifest.itertuples(index=False)}


def rank_rows(store) -> list[list[str]]:
    """The videos each rank settled, from its rows file."""
    files = sorted((store / WORK_FOLDER).glob("rows_rank*.jsonl"))
    return [[json.loads(line)["video_id"] for line in f.read_text().splitlines()] for f in files]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def mixed(tmp_path):
    """Good videos and broken ones: garbage bytes, audio only, a missing file, a truncated stream."""
    folder = tmp_path / "videos"
    folder.mkdir()
    paths = good_videos(folder, 3)
    paths["garbage"] = folder / "garbage.mp4"
    paths["garbage"].write_bytes(np.random.default_rng(1).integers(0, 256, 4000, dtype=np.uint8).tobytes())
    paths["audio"] = write_audio_only(folder / "audio.mp4")
    paths["missing"] = folder / "missing.mp4"
    full = write_indexed_video(folder / "full.mp4", 80, 10.0, (64, 48), options={"movflags": "faststart"})
    paths["cut"] = write_truncated(full, folder / "cut.mp4", 0.8)
    return as_index(paths)


def test_the_job_survives_its_trip_through_json_and_the_launcher_is_checked():
    job = DecodeJob({"v0": "/v/v0.mp4"}, "/store", SETTINGS, True, None, "/store/preprocess_job")
    assert jobs.checked(job) == job and isinstance(jobs.checked(job).settings, ArchiveSettings)
    with pytest.raises(ValueError, match="preprocess: launcher must be one of pool, torchrun, got 'mpi'"):
        PreprocessParams.from_params({"launcher": "mpi"})


def test_two_hosts_decode_each_video_once_and_return_the_pool_paths_manifest(tmp_path):
    """Two agents on one machine (nnodes 2, one rank each) started together, as two hosts would be."""
    folder = tmp_path / "videos"
    folder.mkdir()
    paths = good_videos(folder, 5)
    paths["garbage"] = folder / "garbage.mp4"
    paths["garbage"].write_bytes(b"not a video" * 300)
    index = as_index(paths)
    store = tmp_path / "store"
    launch = {"nnodes": 2, "nproc_per_node": 1, "rdzv_endpoint": f"127.0.0.1:{free_port()}", "threads_per_process": 1}
    results, errors = {}, []

    def host(name):
        try:
            results[name] = decode_to_archives(index, FrameArchiveStore(store), PARAMS, launch)
        except Exception as error:  # noqa: BLE001 - seen by the test below
            errors.append(error)

    threads = [threading.Thread(target=host, args=(name,)) for name in ("host0", "host1")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=240)
    assert not errors and len(results) == 2
    (manifest, report), (other_manifest, other_report) = results.values()
    pd.testing.assert_frame_equal(manifest, other_manifest)
    assert report == other_report  # every host's node returns the same manifest and report
    per_rank = rank_rows(store)
    assert len(per_rank) == 2 and all(per_rank) and sorted(v for rank in per_rank for v in rank) == sorted(paths)  # disjoint, complete
    assert report["world_size"] == 2 and [r["decoded"] for r in report["ranks"]] == [len(r) for r in per_rank]
    assert report["decoded_videos"] == sum(r["decoded"] for r in report["ranks"]) == len(paths)
    pool, pool_report = preprocess_videos(index, tmp_path / "pool_store", SETTINGS, workers=1)
    assert statuses(manifest) == statuses(pool)
    assert {k: report[k] for k in pool_report if k not in ("archive_root", "elapsed_seconds")} == \
        {k: v for k, v in pool_report.items() if k not in ("archive_root", "elapsed_seconds")}
    with FrameArchive(store / "v4.zip") as archive:
        assert len(archive) == 3


def test_bad_videos_are_recorded_and_skipped_with_the_pool_paths_statuses_and_cache_rule(mixed, tmp_path):
    store = tmp_path / "store"
    manifest, report = preprocess_with_torchrun(mixed, store, SETTINGS, 1, True, TWO)
    pool, _ = preprocess_videos(mixed, tmp_path / "pool_store", SETTINGS, workers=1)
    assert statuses(manifest) == statuses(pool)
    assert manifest.set_index("video_id")["status"].to_dict() == {
        "v0": "ok", "v1": "ok", "v2": "ok", "garbage": "failed", "audio": "failed", "missing": "failed", "cut": "partial"}
    assert {f["video_id"] for f in report["failed"]} == {"garbage", "audio", "missing"}
    assert (store / "garbage.failed.json").is_file() and (store / "audio.failed.json").is_file()
    again, report = preprocess_with_torchrun(mixed, store, SETTINGS, 1, True, TWO)
    assert report["decoded_videos"] == 0  # current archives and remembered failures, as in the pool path
    assert again.set_index("video_id")["status"].to_dict() == {
        "v0": "cached", "v1": "cached", "v2": "cached", "garbage": "failed", "audio": "failed", "missing": "failed", "cut": "partial"}


def test_a_rank_killed_midway_fails_the_launch_and_a_rerun_decodes_only_the_rest(tmp_path, monkeypatch):
    index = as_index(good_videos(tmp_path, 10))
    store = tmp_path / "store"
    monkeypatch.setattr(DecodeJob, "WORKER", "tests.workers.dying_decode")  # rank 1 is SIGKILLed after its first video
    with pytest.raises(LaunchError, match="a decoding rank failed; the archives finished so far are kept, a rerun decodes only the rest"):
        preprocess_with_torchrun(index, store, SETTINGS, 1, True, TWO)
    monkeypatch.undo()
    archived = {p.stem for p in store.glob("*.zip")}
    assert 1 <= len(archived) < 10
    assert all(TEMPORARY.match(p.name) for p in store.glob(".*"))  # no half archive under a real name
    manifest, report = preprocess_with_torchrun(index, store, SETTINGS, 1, True, TWO)
    rows = manifest.set_index("video_id")["status"]
    assert report["decoded_videos"] == 10 - len(archived)
    assert set(rows[rows == "cached"].index) == archived and set(rows[rows == "ok"].index) == set(index["video_id"]) - archived


def test_in_process_runs_the_same_job_without_torchrun(mixed, tmp_path):
    manifest, report = preprocess_with_torchrun(mixed, tmp_path / "store", SETTINGS, 1, True, {"in_process": True})
    pool, _ = preprocess_videos(mixed, tmp_path / "pool_store", SETTINGS, workers=1)
    assert statuses(manifest) == statuses(pool) and report["world_size"] == 1
