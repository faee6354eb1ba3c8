"""The encode worker under torchrun: per-video features of every encoder kind, failures, resume, sharding, whitening samples."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest

from tests.helpers import decode_all, write_indexed_video
from video_similarity.frames.archive import ArchiveSettings, FrameArchive
from video_similarity.frames.extract import Task, run_task
from video_similarity.launch import LaunchConfig, launch

WORKER = "video_similarity.workers.encode"
# One thread per worker: on a small, busy CI box OpenMP threads spin against each other (X3D runs ~100x slower).
ONE = LaunchConfig(nproc_per_node=1, backend="gloo", device="cpu", threads_per_process=1)
TWO = LaunchConfig(nproc_per_node=2, backend="gloo", device="cpu", threads_per_process=1)

X3D = {"input_size": 64, "clip_frames": 4, "frame_stride": 2}
ENCODERS = {
    "resnet": {"builder": "resnet50_avgpool", "seed": 1, "options": {"input_size": 64}},
    "x3d_s": {"builder": "x3d_s", "seed": 2, "options": X3D},
    "csl": {"builder": "csl3d_small", "seed": 3, "options": {"img_size": 32, "patch_size": 16, "depth": 1}},
    "pdq": {"builder": "pdq"},
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
    spec = {"encoders": ENCODERS, "videos": corpus["videos"], "output_dir": str(out), "batch_size": 2}
    launch(WORKER, spec, ONE, workdir=corpus["root"] / "jobs")
    return spec


def load(spec, encoder, video_id):
    from pathlib import Path

    return np.load(Path(spec["output_dir"]) / encoder / f"{video_id}.npy")


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
    failed = json.loads((out / "x3d_s" / "failed_rank0.json").read_text())
    assert list(failed) == ["BAD"]
    assert failed["BAD"].startswith("VideoDecodeError: ") and "BAD.mp4" in failed["BAD"]
    assert not (out / "x3d_s" / "BAD.npy").exists()
    assert sorted(p.stem for p in (out / "x3d_s").glob("*.npy")) == ["A", "B", "C"]
    # the encoders that read the (valid) archive encode it, and record no failure
    for name in ("resnet", "csl", "pdq"):
        assert (out / name / "BAD.npy").is_file()
        assert not list((out / name).glob("failed_rank*.json"))
        np.testing.assert_allclose(load(first_run, name, "BAD"), load(first_run, name, "A"), atol=1e-6)


def test_a_rerun_on_two_processes_keeps_existing_files_and_recomputes_deleted_ones_as_one_process(corpus, first_run, tmp_path):
    """Resume and sharding in one job: the same spec again, on 2 gloo processes, over a copy of the first output."""
    out = tmp_path / "features"
    shutil.copytree(first_run["output_dir"], out)  # copy2: mtimes are kept
    spec = {**first_run, "output_dir": str(out)}
    files = sorted(out.glob("*/*.npy"))
    assert len(files) == 4 * 4 - 1  # x3d_s has no BAD.npy
    deleted = [out / "pdq" / "B.npy", *sorted((out / "resnet").glob("*.npy"))]
    for path in deleted:
        path.unlink()
    stamps = {p: p.stat().st_mtime_ns for p in files if p not in deleted}
    launch(WORKER, spec, TWO, workdir=tmp_path / "jobs")
    # nothing that existed was rewritten, everything deleted is back
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
    assert sorted(out.glob("*/*.npy")) == files
    np.testing.assert_array_equal(np.load(out / "pdq" / "B.npy"), load(first_run, "pdq", "B"))
    # the frame encoder sharded over 2 ranks (each builds the same seeded model) gives what 1 process gave
    for video_id in corpus["videos"]:
        np.testing.assert_allclose(np.load(out / "resnet" / f"{video_id}.npy"), load(first_run, "resnet", video_id), atol=1e-5)
    # BAD (sorted 3rd: rank 0's share) is tried again and recorded again by rank 0
    assert list(json.loads((out / "x3d_s" / "failed_rank0.json").read_text())) == ["BAD"]
    assert not (out / "x3d_s" / "failed_rank1.json").exists()


def test_whitening_sample_writes_unwhitened_rmac_regions(corpus, tmp_path):
    good = {v: corpus["videos"][v] for v in LENGTHS}
    sample_dir = tmp_path / "sample"
    spec = {
        "encoders": {"rmac": {"builder": "resnet50_rmac", "seed": 0, "options": {"input_size": 128}}},
        "videos": good,
        "output_dir": str(tmp_path / "features"),
        "whitening_sample": {"rmac": {"max_frames": 6, "output_dir": str(sample_dir)}},
    }
    launch(WORKER, spec, ONE, workdir=tmp_path / "jobs")
    regions = np.load(sample_dir / "rank0.npy")
    # 6 frames over 3 videos: 2 evenly spaced frames of each, 9 R-MAC regions of 3840 dims per frame
    n = sum(min(2, corpus["info"][v]["archive_frames"]) for v in good)
    assert n == 6
    assert regions.dtype == np.float32 and regions.shape == (n * 9, 3840)
    np.testing.assert_allclose(np.linalg.norm(regions, axis=1), 1.0, atol=1e-5)
    # sampling mode writes no features
    assert not (tmp_path / "features").exists()
