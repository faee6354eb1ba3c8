"""Clip archives: one decode per video, the sampled clips back to back, failures recorded, current archives reused."""

import numpy as np
import pandas as pd

from video_similarity.action.clip_archives import (
    ClipArchiveParams,
    archive_clip_count,
    clip_plan,
    read_archive_clip,
    read_archive_clips,
    write_clip_archive,
    write_clip_archives,
)
from video_similarity.action.sampling import ClipSampling
from video_similarity.frames.archive import read_meta
from video_similarity.video.encode import write_video


def _video(path, n, size=48):
    """Frame k is a flat grey of level 4k (so which source frame a clip holds can be read back)."""
    frames = [np.full((size, size + 16, 3), 4 * k, np.uint8) for k in range(n)]
    write_video(path, frames, fps=25.0, quality=2)
    return path


PARAMS = ClipArchiveParams(ClipSampling(frames=4, stride=5, size=32), clips=3, min_frames=6)


def test_clip_plan_spreads_clips_on_stride_multiples_and_repeats_the_last_frame():
    s = ClipSampling(frames=4, stride=5, size=32)
    assert clip_plan(60, s, 3) == [[0, 5, 10, 15], [20, 25, 30, 35], [40, 45, 50, 55]]
    assert clip_plan(12, s, 3) == [[0, 5, 10, 11]]  # short: one clip, the last frame repeated


def test_archive_holds_the_planned_source_frames_clip_by_clip(tmp_path):
    video = _video(tmp_path / "v.mp4", 60)
    row = write_clip_archive("v", str(video), str(tmp_path / "v.zip"), PARAMS)
    assert row["status"] == "good" and row["frames_decoded"] == 60 and row["clips"] == 3
    clips = read_archive_clips(tmp_path / "v.zip", 4)
    assert clips.shape == (3, 4, 32, 32, 3) and archive_clip_count(tmp_path / "v.zip", 4) == 3
    levels = clips[..., 0].mean(axis=(2, 3)) / 4
    np.testing.assert_allclose(levels, np.array(clip_plan(60, PARAMS.sampling, 3)), atol=1.0)
    np.testing.assert_array_equal(read_archive_clip(tmp_path / "v.zip", 2, 4), clips[2])
    assert read_archive_clip(tmp_path / "v.zip", 0, 4, size=16).shape == (4, 16, 16, 3)


def test_short_missing_and_broken_videos_fail_with_their_reason(tmp_path):
    short = _video(tmp_path / "short.mp4", 4)
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all")
    assert write_clip_archive("s", str(short), str(tmp_path / "s.zip"), PARAMS)["error"] == "too short: 4 frames, at least 6 needed"
    assert "not a readable media file" in write_clip_archive("b", str(broken), str(tmp_path / "b.zip"), PARAMS)["error"]
    assert "does not exist" in write_clip_archive("m", str(tmp_path / "none.mp4"), str(tmp_path / "m.zip"), PARAMS)["error"]
    assert not (tmp_path / "s.zip").exists() and not (tmp_path / "b.zip").exists()


def test_a_current_archive_is_kept_and_a_changed_source_or_setting_remakes_it(tmp_path):
    video = _video(tmp_path / "v.mp4", 30)
    out = tmp_path / "v.zip"
    write_clip_archive("v", str(video), str(out), PARAMS)
    made = out.stat().st_mtime_ns
    write_clip_archive("v", str(video), str(out), PARAMS)
    assert out.stat().st_mtime_ns == made
    _video(video, 60)  # the source changed
    assert write_clip_archive("v", str(video), str(out), PARAMS)["frames_decoded"] == 60
    assert read_meta(out)["frames_decoded"] == 60
    other = ClipArchiveParams(ClipSampling(frames=2, stride=5, size=32), clips=1, min_frames=6)
    write_clip_archive("v", str(video), str(out), other)
    assert archive_clip_count(out, 2) == 1


def test_the_manifest_keeps_the_index_order_and_every_video(tmp_path):
    good = _video(tmp_path / "a.mp4", 30)
    (tmp_path / "b.mp4").write_bytes(b"")
    index = pd.DataFrame({"video_id": ["b", "a"], "path": [str(tmp_path / "b.mp4"), str(good)]})
    manifest = write_clip_archives(index, tmp_path / "clips", PARAMS, workers=1)
    assert manifest["video_id"].tolist() == ["b", "a"]
    assert manifest["status"].tolist() == ["failed", "good"] and "empty" in manifest["error"].iloc[0]


def test_a_stream_that_breaks_is_used_up_to_the_break(tmp_path):
    from tests.helpers import write_indexed_video, write_truncated

    full = write_indexed_video(tmp_path / "full.mp4", 80, 10.0, (160, 64), options={"movflags": "faststart"})
    cut = write_truncated(full, tmp_path / "cut.mp4", 0.8)
    row = write_clip_archive("cut", str(cut), str(tmp_path / "cut.zip"), PARAMS)
    assert row["status"] == "partial" and "breaks after" in row["error"] and PARAMS.min_frames <= row["frames_decoded"] < 80
    again = write_clip_archive("cut", str(cut), str(tmp_path / "cut.zip"), PARAMS)  # current: the status is kept
    assert (again["status"], again["error"]) == ("partial", row["error"])
