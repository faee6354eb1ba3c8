"""The one extraction worker under torchrun: every encoder kind, failures, the cache rule, sharding, merging, whitening samples."""

from __future__ import annotations

import math
import shutil

import numpy as np
import pytest

from tests.helpers import decode_all, write_indexed_video
from video_similarity.frames.archive import ArchiveSettings, FrameArchive, write_archive
from video_similarity.frames.archive_job import Task, run_task
from video_similarity.video.decode import SampledFrame
from video_similarity.cache import read_item
from video_similarity.descriptors import load_descriptors
from video_similarity.extraction import archive_videos, encoder_stamp, extract, failures, region_sample
from video_similarity.launch import LaunchConfig

# One thread per worker: on a small, busy CI box OpenMP threads spin against each other (X3D runs ~100x slower).
ONE = LaunchConfig(nproc_per_node=1, backend="gloo", device="cpu", threads_per_process=1)
TWO = LaunchConfig(nproc_per_node=2, backend="gloo", device="cpu", threads_per_process=1)

X3D = {"input_size": 64, "clip_frames": 4, "frame_stride": 2}
def entry(builder, seed=0, **options):
    return {"builder": builder, "weights_path": None, "seed": seed, "whitening_path": None, "options": options}


ENCODERS = {
    "resnet": entry("resnet50_avgpool", 1, input_size=64),
    "x3d_s": entry("x3d_s", 2, **X3D),
    "csl": entry("csl3d_small", 3, img_size=32, patch_size=16, depth=1),
    "pdq": entry("pdq"),
}
# video id -> (frames, fps): 3 s and 3.5 s at 10 fps, and 9 s at 2 fps (9 archive frames: two 8-frame CSL clips)
VIDEOS = {"A": (30, 10.0), "B": (35, 10.0), "C": (18, 2.0)}
LENGTHS = {v: n for v, (n, _) in VIDEOS.items()}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Three good small (64x48) videos with their 1-fps archives, and one garbage .mp4 (whose archive is valid)."""
    root = tmp_path_factory.mktemp("encode_corpus")
    settings = ArchiveSettings(short_side=None)
    videos, info = {}, {}
    for video_id, (n_frames, fps) in VIDEOS.items():
        source = write_indexed_video(root / f"{video_id}.mp4", n_frames, fps, (64, 48))
        result = run_task(Task(video_id, str(source), str(root / f"{video_id}.zip"), settings))
        assert result["status"] == "ok", result
        videos[video_id] = {"archive": result["archive"], "video": str(source)}
        info[video_id] = {"archive_frames": result["n_frames"], "decoded_frames": len(decode_all(source))}
    # garbage bytes under an .mp4 name; its archive is a copy of a good one, so only the video-reading encoder fails
    bad = root / "BAD.mp4"
    bad.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    shutil.copy(root / "A.zip", root / "BAD.zip")
    videos["BAD"] = {"archive": str(root / "BAD.zip"), "video": str(bad)}
    return {"root": root, "videos": videos, "info": info}


@pytest.fixture(scope="module")
def first_run(corpus):
    """One single-process job with all four encoders."""
    out = corpus["root"] / "features"
    extract(ENCODERS, corpus["videos"], out, {"nproc_per_node": 1, "threads_per_process": 1}, 2)
    return {"output_dir": str(out)}


def load(spec, encoder, video_id):
    return read_item(f"{spec['output_dir']}/{encoder}", video_id)["features"]


def test_archive_fixture_is_what_the_counts_below_assume(corpus):
    info = corpus["info"]
    assert {v: i["decoded_frames"] for v, i in info.items()} == LENGTHS
    assert info["C"]["archive_frames"] == 9
    for video_id, i in info.items():
        with FrameArchive(corpus["videos"][video_id]["archive"]) as archive:
            assert len(archive) == i["archive_frames"]


def test_every_encoder_writes_one_unit_row_per_frame_or_clip(corpus, first_run):
    for video_id, i in corpus["info"].items():
        frames = load(first_run, "resnet", video_id)
        assert frames.dtype == np.float32 and frames.shape == (i["archive_frames"], 2048)

        clips = load(first_run, "x3d_s", video_id)
        # every frame_stride-th decoded frame is kept; kept frames make non-overlapping clips, the last one padded
        kept = math.ceil(i["decoded_frames"] / X3D["frame_stride"])
        assert clips.dtype == np.float32 and clips.shape == (math.ceil(kept / X3D["clip_frames"]), 2048)
        assert len(clips) == math.ceil(i["decoded_frames"] / (X3D["clip_frames"] * X3D["frame_stride"]))

        csl = load(first_run, "csl", video_id)
        assert csl.dtype == np.float32 and csl.shape == (math.ceil(i["archive_frames"] / 8), 384)

        pdq = load(first_run, "pdq", video_id)
        assert pdq.dtype == np.float32 and pdq.shape == (i["archive_frames"], 256)
        np.testing.assert_array_equal(np.abs(pdq), np.full_like(pdq, 1 / 16))

        for rows in (frames, clips, csl, pdq):
            assert np.isfinite(rows).all()
            np.testing.assert_allclose(np.linalg.norm(rows, axis=1), 1.0, atol=1e-5)
    assert len(load(first_run, "x3d_s", "C")) == 3 and len(load(first_run, "csl", "C")) == 2
    # different frames get different features (the model is not constant)
    frames = load(first_run, "resnet", "C")
    assert not np.allclose(frames[0], frames[1])


def test_a_video_that_does_not_decode_is_recorded_and_skipped(corpus, first_run):
    out = corpus["root"] / "features"
    failed = failures(out / "x3d_s")
    assert list(failed) == ["BAD"]
    assert failed["BAD"].startswith("VideoDecodeError: ") and "BAD.mp4" in failed["BAD"]
    assert not (out / "x3d_s" / "BAD.npz").exists()
    assert sorted(p.stem for p in (out / "x3d_s").glob("*.npz")) == ["A", "B", "C"]
    # the encoders that read the (valid) archive encode it, and record no failure
    for name in ("resnet", "csl", "pdq"):
        assert (out / name / "BAD.npz").is_file()
        assert not list((out / name).glob("failed_rank*.json"))
        np.testing.assert_allclose(load(first_run, name, "BAD"), load(first_run, name, "A"), atol=1e-6)


def test_a_rerun_on_two_processes_keeps_current_items_and_recomputes_deleted_ones_as_one_process(corpus, first_run, tmp_path):
    """Resume and sharding in one job: the same encoders again, on 2 gloo processes, over a copy of the first output."""
    out = tmp_path / "features"
    shutil.copytree(first_run["output_dir"], out)  # copy2: mtimes are kept
    files = sorted(out.glob("*/*.npz"))
    assert len(files) == 4 * 4 - 1  # x3d_s has no BAD.npz
    deleted = [out / "pdq" / "B.npz", *sorted((out / "resnet").glob("*.npz"))]
    for path in deleted:
        path.unlink()
    stamps = {p: p.stat().st_mtime_ns for p in files if p not in deleted}
    extract(ENCODERS, corpus["videos"], out, {"nproc_per_node": 2, "backend": "gloo", "threads_per_process": 1}, 2)
    # nothing that existed was rewritten, everything deleted is back
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
    assert sorted(out.glob("*/*.npz")) == files
    np.testing.assert_array_equal(read_item(out / "pdq", "B")["features"], load(first_run, "pdq", "B"))
    # the frame encoder sharded over 2 ranks (each builds the same seeded model) gives what 1 process gave
    for video_id in corpus["videos"]:
        np.testing.assert_allclose(read_item(out / "resnet", video_id)["features"], load(first_run, "resnet", video_id), atol=1e-5)
    # BAD (sorted 3rd: rank 0's share) is tried again and recorded again by rank 0 alone
    assert list(failures(out / "x3d_s")) == ["BAD"]
    assert not (out / "x3d_s" / "failed_rank1.json").exists()


def test_the_cache_follows_its_inputs(corpus, first_run, tmp_path):
    """A rebuilt archive re-encodes that video only; another seed (a new stamp) rebuilds the encoder's folder."""
    import os

    out = tmp_path / "features"
    shutil.copytree(first_run["output_dir"], out)
    videos = {v: dict(info) for v, info in corpus["videos"].items()}
    archive = tmp_path / "A.zip"
    shutil.copy2(videos["A"]["archive"], archive)
    videos["A"]["archive"] = str(archive)
    later = (archive.stat().st_mtime_ns + 10**9,) * 2
    os.utime(archive, ns=later)  # as if preprocess had written it again
    pdq = {"pdq": ENCODERS["pdq"]}
    before = {p.stem: p.stat().st_mtime_ns for p in (out / "pdq").glob("*.npz")}
    extract(pdq, videos, out, {"threads_per_process": 1}, 2)
    after = {p.stem: p.stat().st_mtime_ns for p in (out / "pdq").glob("*.npz")}
    assert after["A"] > before["A"] and all(after[v] == before[v] for v in ("B", "C", "BAD"))
    # a changed setting is a new stamp: the folder is made again from scratch
    reseeded = {"resnet": {**ENCODERS["resnet"], "seed": 7}}
    assert encoder_stamp(reseeded["resnet"]) != encoder_stamp(ENCODERS["resnet"])
    extract(reseeded, {"C": videos["C"]}, out, {"threads_per_process": 1}, 2)
    assert sorted(p.stem for p in (out / "resnet").glob("*.npz")) == ["C"]
    assert not np.allclose(read_item(out / "resnet", "C")["features"], load(first_run, "resnet", "C"))


def test_a_killed_job_leaves_no_partial_item(corpus, tmp_path):
    """Items are written through a temporary file and renamed: a worker killed mid-write leaves complete files or none."""
    from video_similarity.cache import write_item

    folder = tmp_path / "enc"
    folder.mkdir()

    class Boom(Exception):
        pass

    def exploding(*_):
        raise Boom()

    import video_similarity.cache as cache

    original = cache.atomic_write
    cache.atomic_write = lambda path, write: original(path, lambda handle: (handle.write(b"half"), exploding()))
    try:
        with pytest.raises(Boom):
            write_item(folder, "A", "key", features=np.zeros((2, 3), np.float32))
    finally:
        cache.atomic_write = original
    assert list(folder.iterdir()) == []


def test_frame_encoders_merge_into_descriptor_files_in_the_spec_order(corpus, first_run, tmp_path):
    out = tmp_path / "features"
    shutil.copytree(first_run["output_dir"], out)
    order = {v: corpus["videos"][v] for v in ("C", "A", "B")}
    merged = extract({"pdq": ENCODERS["pdq"]}, order, out, {"threads_per_process": 1}, 2, merge_job="job")["pdq"]
    lengths = {v: corpus["info"][v]["archive_frames"] for v in order}
    assert merged.video_ids.tolist() == sum(([v] * n for v, n in lengths.items()), [])
    with FrameArchive(corpus["videos"]["C"]["archive"]) as archive:
        np.testing.assert_array_equal(merged.timestamps[: lengths["C"]], archive.timestamps)
    assert load_descriptors(out / "merged" / "job" / "pdq.npz").features.shape == (sum(lengths.values()), 256)


def test_whitening_sample_writes_unwhitened_rmac_regions(corpus, tmp_path):
    good = {v: corpus["videos"][v] for v in LENGTHS}
    sample_dir = tmp_path / "sample"
    regions = region_sample(entry("resnet50_rmac", 0, input_size=128), good, 6, sample_dir, {"threads_per_process": 1}, tmp_path / "jobs")
    assert np.array_equal(regions, np.load(sample_dir / "rank0.npy"))
    # 6 frames over 3 videos: 2 evenly spaced frames of each, 9 R-MAC regions of 3840 dims per frame
    n = sum(min(2, corpus["info"][v]["archive_frames"]) for v in good)
    assert n == 6
    assert regions.dtype == np.float32 and regions.shape == (n * 9, 3840)
    np.testing.assert_allclose(np.linalg.norm(regions, axis=1), 1.0, atol=1e-5)
    # sampling mode writes no features
    assert not (tmp_path / "features").exists()


@pytest.fixture
def archives(tmp_path):
    """Five archives of random frames (40 x 56), one to four frames each."""
    rng = np.random.default_rng(0)
    paths = {}
    for i, n in enumerate([3, 2, 4, 1, 2]):
        frames = [SampledFrame(k, k, k + 1, rng.integers(0, 256, (40, 56, 3), dtype=np.uint8)) for k in range(n)]
        path = tmp_path / "archives" / f"V{i}.zip"
        write_archive(path, f"V{i}", frames, ArchiveSettings())
        paths[f"V{i}"] = str(path)
    return paths


MODELS = {"tiny": entry("mobilenet_v3_small", 3, dim=16, input_size=64)}


def test_two_gloo_processes_give_the_same_descriptors_as_one(archives, tmp_path):
    one = extract(MODELS, archive_videos(archives), tmp_path / "one", {"nproc_per_node": 1}, 2, merge_job="job")["tiny"]
    two = extract(MODELS, archive_videos(archives), tmp_path / "two", {"nproc_per_node": 2, "backend": "gloo"}, 2, merge_job="job")["tiny"]
    assert one.video_ids.tolist() == ["V0"] * 3 + ["V1"] * 2 + ["V2"] * 4 + ["V3"] + ["V4"] * 2
    np.testing.assert_array_equal(one.video_ids, two.video_ids)
    np.testing.assert_allclose(one.timestamps, two.timestamps)
    np.testing.assert_allclose(one.features, two.features, atol=1e-5)
    assert one.features.dtype == np.float32 and one.features.shape == (12, 16)
    np.testing.assert_allclose(np.linalg.norm(one.features, axis=1), 1, atol=1e-5)
    # both ranks wrote per-video files; rank 0 merged them in the spec's order
    assert sorted(p.stem for p in (tmp_path / "two" / "tiny").glob("*.npz")) == sorted(archives)
    assert load_descriptors(tmp_path / "two" / "merged" / "job" / "tiny.npz").features.shape == (12, 16)


def test_no_inflight_note_is_left_by_a_job_that_finished(corpus, first_run):
    from pathlib import Path

    assert not list(Path(first_run["output_dir"]).rglob("inflight_rank*.txt"))


def test_a_video_that_kills_the_extraction_process_is_recorded_and_the_rest_goes_on(corpus, tmp_path, monkeypatch):
    """A rank that dies on a video (a decoder segfault, the OOM killer) leaves a note naming it: the node tries that
    video alone, records it as failed when it kills that job too, relaunches without it, and later runs skip it until
    its archive changes. A video whose rank was only stopped with the dying job is not blamed."""
    import json
    import os
    from pathlib import Path

    import video_similarity.extraction as extraction
    from video_similarity.cache import input_key, write_item
    from video_similarity.launch import LaunchError

    launches = []
    stopped_once = []

    def fake_run(job, launch_params, workdir):  # what the workers do: BAD kills its process, A's rank is stopped once
        launches.append((sorted(job.videos), {name: sorted(skip) for name, skip in job.skip.items()}))
        for name in job.encoders:
            folder = Path(job.cache_dir) / name
            for video in job.videos:
                if video in job.skip.get(name, ()):
                    continue
                if video == "A" and len(job.videos) > 1 and not stopped_once:
                    (folder / "inflight_rank1.txt").write_text("A")  # torchrun stopped this rank: A is innocent
                    stopped_once.append(True)
                if video == "BAD":
                    (folder / "inflight_rank0.txt").write_text(video)
                    raise LaunchError(f"job {job.WORKER} failed with exit code -11 (spec ...)")
                write_item(folder, video, input_key(job.videos[video].archive), features=np.ones((1, 2), np.float32))

    monkeypatch.setattr(extraction, "run_job", fake_run)
    encoders = {"pdq": entry("pdq")}
    videos = dict(sorted(corpus["videos"].items(), key=lambda kv: (kv[0] != "A", kv[0] != "BAD")))  # A, then BAD kills the job
    extraction.extract(encoders, videos, tmp_path, None, 2)
    every = sorted(videos)
    assert launches == [(every, {"pdq": []}), (["A"], {}), (["BAD"], {}), (every, {"pdq": ["BAD"]})]
    assert sorted(p.stem for p in (tmp_path / "pdq").glob("*.npz")) == ["A", "B", "C"]
    crashed = failures(tmp_path / "pdq")
    assert list(crashed) == ["BAD"] and "the extraction process died while encoding it (job" in crashed["BAD"]
    launches.clear()
    extraction.extract(encoders, videos, tmp_path, None, 2)  # a rerun: not retried forever, and the rest is current
    assert launches == []
    stat = os.stat(videos["BAD"]["archive"])
    os.utime(videos["BAD"]["archive"], ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # the archive changes
    launches.clear()
    extraction.extract(encoders, videos, tmp_path, None, 2)  # tried again, killed again, recorded again; the rest is current
    assert launches == [(every, {"pdq": []}), (["BAD"], {})]
    assert list(json.loads((tmp_path / "pdq" / "crashed.json").read_text())) == ["BAD"]


def test_no_job_is_launched_when_every_item_is_current_and_a_changed_archive_launches_one(corpus, tmp_path, monkeypatch):
    """The node checks the one cache rule's keys itself: a run whose items are all current starts no torchrun job (each
    costs seconds of start-up) and still merges the official file; one changed archive is a job again."""
    import os

    import video_similarity.extraction as extraction
    from video_similarity.cache import input_key, write_item

    launches = []

    def fake_run(job, launch_params, workdir):
        launches.append(sorted(job.videos))
        for video, info in job.videos.items():
            t = np.asarray([[0.0, 1.0]])
            write_item(tmp_path / "pdq", video, input_key(info.archive), features=np.ones((1, 2), np.float32), timestamps=t)

    monkeypatch.setattr(extraction, "run_job", fake_run)
    videos = {v: info for v, info in corpus["videos"].items() if v != "BAD"}
    first = extraction.extract({"pdq": entry("pdq")}, videos, tmp_path, None, 2, merge_job="j")
    assert len(launches) == 1 and len(first["pdq"]) == len(videos)
    again = extraction.extract({"pdq": entry("pdq")}, videos, tmp_path, None, 2, merge_job="j")
    assert len(launches) == 1 and again["pdq"].video_ids.tolist() == first["pdq"].video_ids.tolist()  # merged by the node
    archive = next(iter(videos.values()))["archive"]
    stat = os.stat(archive)
    os.utime(archive, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    extraction.extract({"pdq": entry("pdq")}, videos, tmp_path, None, 2, merge_job="j")
    assert len(launches) == 2


def test_in_process_extraction_writes_the_same_items_without_a_worker_process(corpus, tmp_path, monkeypatch):
    """launch.in_process (kedro find-copies): the worker's own run() in this process, items equal to a launched job's."""
    import dataclasses

    from video_similarity import jobs

    videos = {v: corpus["videos"][v] for v in ("A", "B")}
    extract({"pdq": ENCODERS["pdq"]}, videos, tmp_path / "launched", ONE, 8)
    monkeypatch.setattr(jobs, "launch", lambda *a, **k: pytest.fail("in_process must not start a process"))
    extract({"pdq": ENCODERS["pdq"]}, videos, tmp_path / "here", dataclasses.replace(ONE, in_process=True), 8)
    for video in videos:
        a, b = read_item(tmp_path / "launched" / "pdq", video), read_item(tmp_path / "here" / "pdq", video)
        np.testing.assert_array_equal(a["features"], b["features"])
        assert str(a["key"]) == str(b["key"])
    with pytest.raises(ValueError, match="in_process runs one process"):
        LaunchConfig(nproc_per_node=2, in_process=True)
