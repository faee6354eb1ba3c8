"""Preprocess over a mix of good and broken videos: nothing good is lost."""

import os

import numpy as np
import pandas as pd
import pytest

from tests.helpers import (
    read_index,
    write_audio_only,
    write_indexed_video,
    write_truncated,
    write_zero_frame_video,
)
from video_similarity.frames.archive import ArchiveSettings, FrameArchive
from video_similarity.frames.preprocess import preprocess_videos


@pytest.fixture
def index(tmp_path):
    videos = tmp_path / "videos"
    videos.mkdir()
    paths = {
        "good_a": write_indexed_video(videos / "a.mp4", 45, 15.0, (160, 64)),
        "good_b": write_indexed_video(videos / "b.mp4", 24, 8.0, (160, 96)),
        "audio": write_audio_only(videos / "audio.mp4"),
        "zero": write_zero_frame_video(videos / "zero.mp4"),
        "empty": videos / "empty.mp4",
        "garbage": videos / "garbage.mp4",
        "missing": videos / "missing.mp4",
    }
    paths["empty"].write_bytes(b"")
    paths["garbage"].write_bytes(np.random.default_rng(1).integers(0, 256, 4000, dtype=np.uint8).tobytes())
    full = write_indexed_video(videos / "full.mp4", 80, 10.0, (160, 64), options={"movflags": "faststart"})
    paths["cut"] = write_truncated(full, videos / "cut.mp4", 0.8)
    return pd.DataFrame(
        [{"video_id": k, "split": "train", "role": "query", "path": str(p)} for k, p in paths.items()]
    )


def test_bad_videos_are_reported_and_good_ones_archived(index, tmp_path):
    manifest, report = preprocess_videos(index, tmp_path / "store", ArchiveSettings(short_side=32), workers=2)
    status = manifest.set_index("video_id")["status"].to_dict()
    assert status == {
        "good_a": "ok", "good_b": "ok", "cut": "partial",
        "audio": "failed", "zero": "failed", "empty": "failed", "garbage": "failed", "missing": "failed",
    }
    errors = manifest.set_index("video_id")["error"]
    assert "no video stream" in errors["audio"] and "audio.mp4" in errors["audio"]
    assert "no decodable video frames" in errors["zero"]
    assert "empty" in errors["empty"] and "does not exist" in errors["missing"]
    assert {f["video_id"] for f in report["failed"]} == {"audio", "zero", "empty", "garbage", "missing"}
    assert report["partial"][0]["video_id"] == "cut"
    with FrameArchive(tmp_path / "store" / "good_a.zip") as archive:
        assert len(archive) == 3 and archive.frame(0).shape == (32, 80, 3)
        assert [read_index(f) for f in archive.frames()] == [0, 15, 30]
    assert manifest.set_index("video_id").loc["good_b", "n_frames"] == 3
    assert not list((tmp_path / "store").glob(".*"))  # no temporary files left


def test_second_run_skips_current_archives_and_redoes_changed_settings(index, tmp_path):
    store = tmp_path / "store"
    good = index[index["video_id"].str.startswith("good")]
    preprocess_videos(good, store, ArchiveSettings(short_side=32), workers=1)
    mtime = (store / "good_a.zip").stat().st_mtime_ns
    manifest, report = preprocess_videos(good, store, ArchiveSettings(short_side=32), workers=1)
    assert set(manifest["status"]) == {"cached"} and report["decoded_videos"] == 0
    assert manifest["n_frames"].tolist() == [3, 3]
    assert (store / "good_a.zip").stat().st_mtime_ns == mtime
    manifest, _ = preprocess_videos(good, store, ArchiveSettings(short_side=48), workers=1)
    assert set(manifest["status"]) == {"ok"}
    with FrameArchive(store / "good_a.zip") as archive:
        assert archive.frame(0).shape[0] == 48
    manifest, _ = preprocess_videos(good, store, ArchiveSettings(short_side=48), workers=1, only_missing=False)
    assert set(manifest["status"]) == {"ok"}


def test_an_archive_follows_its_source_and_statuses_survive_reruns(index, tmp_path):
    """A replaced video is decoded again; a partial or failed video keeps its status and error until it changes."""
    store, settings = tmp_path / "store", ArchiveSettings(short_side=32)
    first, _ = preprocess_videos(index, store, settings, workers=2)
    again, report = preprocess_videos(index, store, settings, workers=2)
    assert report["decoded_videos"] == 0  # failures are remembered, not retried on every run
    rows, before = again.set_index("video_id"), first.set_index("video_id")
    assert rows.loc["cut", "status"] == "partial" and rows.loc["cut", "error"] == before.loc["cut", "error"] != ""
    assert rows.loc["audio", "status"] == "failed" and rows.loc["audio", "error"] == before.loc["audio", "error"]
    assert rows.loc["good_a", "status"] == "cached"
    # good_a is replaced by another video of the same length and size: its archive must not be reused
    path = index.set_index("video_id").loc["good_a", "path"]
    write_indexed_video(path, 45, 15.0, (160, 64), pts=[i + 7 for i in range(45)])
    stat = os.stat(path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    replaced, report = preprocess_videos(index, store, settings, workers=2)
    assert replaced.set_index("video_id").loc["good_a", "status"] == "ok" and report["decoded_videos"] == 1
    # the audio-only file becomes a real video: tried again
    write_indexed_video(index.set_index("video_id").loc["audio", "path"], 20, 10.0, (160, 64))
    fixed, _ = preprocess_videos(index, store, settings, workers=2)
    assert fixed.set_index("video_id").loc["audio", "status"] == "ok" and not (store / "audio.failed.json").exists()


def test_a_degenerate_aspect_ratio_is_capped_and_said(tmp_path):
    path = write_indexed_video(tmp_path / "strip.mp4", 10, 10.0, (1600, 16))
    index = pd.DataFrame([{"video_id": "strip", "split": "train", "role": "query", "path": str(path)}])
    manifest, _ = preprocess_videos(index, tmp_path / "store", ArchiveSettings(short_side=64, max_long_side=1024), workers=1)
    row = manifest.iloc[0]
    assert row["status"] == "ok" and "degenerate aspect ratio 100:1" in row["error"]
    with FrameArchive(tmp_path / "store" / "strip.zip") as archive:
        assert max(archive.frame(0).shape[:2]) == 1024  # not 6400 px
