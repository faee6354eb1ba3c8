import math

import numpy as np
import pytest

from tests.helpers import (
    read_index,
    write_audio_only,
    write_indexed_video,
    write_truncated,
    write_zero_frame_video,
)
from video_similarity.video.decode import (
    VideoDecodeError,
    expected_sample_count,
    probe,
    resized_shape,
    sample_frames,
)


def displayed_index(k: float, fps: float) -> int:
    """Index of the frame on screen at time k for a constant-rate video."""
    return int(math.floor(k * fps + 1e-9))


@pytest.mark.parametrize("fps", [7.5, 10.0, 23.976, 25.0, 29.97, 30.0, 60.0])
def test_one_frame_per_second_picks_the_frame_displayed_at_k(indexed_video, fps):
    n = int(fps * 6.5)
    path = indexed_video(n_frames=n, fps=fps)
    samples = list(sample_frames(path, fps=1.0))
    duration = n / fps
    assert len(samples) == expected_sample_count(duration) == math.ceil(duration)
    for s in samples:
        assert (s.start, s.end) == (s.index, s.index + 1)
        assert read_index(s.image) == displayed_index(s.index, fps)


def test_higher_sampling_rate_and_timestamps(indexed_video):
    path = indexed_video(n_frames=40, fps=20.0)
    samples = list(sample_frames(path, fps=4.0))
    assert len(samples) == 8
    assert [read_index(s.image) for s in samples] == [0, 5, 10, 15, 20, 25, 30, 35]
    assert samples[3].start == pytest.approx(0.75) and samples[3].end == pytest.approx(1.0)


def test_sampling_faster_than_the_video_repeats_frames(indexed_video):
    path = indexed_video(n_frames=4, fps=2.0)  # 2 s at 2 fps
    samples = list(sample_frames(path, fps=4.0))
    assert [read_index(s.image) for s in samples] == [0, 0, 1, 1, 2, 2, 3, 3]


def test_variable_frame_rate_follows_presentation_times(tmp_path):
    times = [0.0, 0.1, 0.2, 1.5, 1.6, 2.9, 3.05, 3.2]  # gaps: frames 2 and 4 stay on screen
    path = write_indexed_video(tmp_path / "vfr.mp4", len(times), 10.0, (160, 64), pts=times)
    samples = list(sample_frames(path, fps=1.0))
    assert [read_index(s.image) for s in samples] == [0, 2, 4, 5]


def test_resize_to_short_side(indexed_video):
    path = indexed_video(size=(130, 66))
    first = next(sample_frames(path, short_side=33))
    assert first.image.shape == (33, 65, 3)
    assert resized_shape(1920, 1080, 256) == (455, 256)
    assert resized_shape(100, 50, None) == (100, 50)


def test_probe_reads_header(indexed_video):
    info = probe(indexed_video(n_frames=25, fps=12.5, size=(96, 64)))
    assert (info.width, info.height) == (96, 64)
    assert info.fps == pytest.approx(12.5)
    assert info.duration == pytest.approx(2.0, abs=0.1)


def test_missing_empty_and_garbage_files_raise_naming_the_file(tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    for path, words in [(tmp_path / "nope.mp4", "does not exist"), (empty, "empty"), (garbage, "not a readable media file")]:
        with pytest.raises(VideoDecodeError) as err:
            list(sample_frames(path))
        assert str(path) in str(err.value) and words in str(err.value)


def test_truncated_file_raises_or_keeps_the_decodable_start(indexed_video, tmp_path):
    path = indexed_video(n_frames=60, fps=10.0)
    data = path.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(VideoDecodeError) as err:
        list(sample_frames(cut))
    assert str(cut) in str(err.value)


def test_invalid_rate_is_rejected(indexed_video):
    with pytest.raises(ValueError, match="fps must be positive"):
        list(sample_frames(indexed_video(), fps=0))


@pytest.mark.parametrize("degrees", [90, -90, 180])
def test_rotation_metadata_is_applied(tmp_path, degrees):
    path = write_indexed_video(tmp_path / "rot.mp4", 20, 10.0, (160, 64), rotation=degrees)
    samples = list(sample_frames(path, short_side=32))
    turns = round(degrees / 90) % 4
    expected_shape = (80, 32, 3) if turns % 2 else (32, 80, 3)
    for s in samples:
        assert s.image.shape == expected_shape
        assert read_index(np.rot90(s.image, -turns)) == s.index * 10


def test_audio_only_and_zero_frame_files_are_rejected(tmp_path):
    with pytest.raises(VideoDecodeError, match="no video stream \\(streams: audio\\)"):
        list(sample_frames(write_audio_only(tmp_path / "audio.mp4")))
    with pytest.raises(VideoDecodeError, match="no decodable video frames"):
        list(sample_frames(write_zero_frame_video(tmp_path / "zero.mp4")))


def test_a_stream_that_breaks_midway_yields_its_start_then_raises(tmp_path):
    full = write_indexed_video(tmp_path / "full.mp4", 80, 10.0, (160, 64), options={"movflags": "faststart"})
    cut = write_truncated(full, tmp_path / "cut.mp4", 0.8)
    got = []
    with pytest.raises(VideoDecodeError, match="stream breaks after"):
        for s in sample_frames(cut):
            got.append(read_index(s.image))
    assert got and got == [10 * k for k in range(len(got))]
