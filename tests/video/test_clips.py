"""Cutting videos and 1-fps frame archives into encoder clips.

The fixture videos show their frame index as 10 black/white bars, so every
test can check which source frame ended up where.
"""

import numpy as np
import pytest
import torch

from tests.helpers import (
    read_index,
    write_audio_only,
    write_indexed_video,
    write_truncated,
    write_zero_frame_video,
)
from video_similarity.video import clips as clips_module
from video_similarity.video.clips import clips_from_frames, read_clips, to_clip_tensor
from video_similarity.video.decode import VideoDecodeError


def indices(clip):
    return [read_index(frame) for frame in clip]


@pytest.fixture
def square_video(indexed_video):
    """80x80 frames, 8 px bars: read_index works on them without resizing."""

    def make(n_frames, **kwargs):
        return indexed_video(n_frames=n_frames, fps=25.0, size=(80, 80), **kwargs)

    return make


def test_clip_count_stride_and_padding(square_video):
    path = square_video(50)
    clips = list(read_clips(path, clip_frames=4, frame_stride=3, size=80))
    # kept frames 0, 3, ..., 48 (17 of them) -> 4 + 4 + 4 + 4 + 1 (padded)
    assert len(clips) == 5
    for clip in clips:
        assert clip.shape == (4, 80, 80, 3) and clip.dtype == np.uint8
    assert [indices(c) for c in clips[:4]] == [[3 * (4 * c + j) for j in range(4)] for c in range(4)]
    assert indices(clips[4]) == [48, 48, 48, 48]
    np.testing.assert_array_equal(clips[4][1:], np.repeat(clips[4][:1], 3, axis=0))


def test_exact_multiple_has_no_padding_and_max_clips(square_video):
    path = square_video(24)
    clips = list(read_clips(path, clip_frames=4, frame_stride=2, size=80))
    assert [indices(c) for c in clips] == [[0, 2, 4, 6], [8, 10, 12, 14], [16, 18, 20, 22]]
    assert len(list(read_clips(path, 4, 2, 80, max_clips=2))) == 2


def test_video_shorter_than_one_clip_gives_one_clip(square_video):
    path = square_video(5)
    (clip,) = read_clips(path, clip_frames=13, frame_stride=6, size=40)
    assert clip.shape == (13, 40, 40, 3)
    assert indices(clip) == [0] * 13


def crop_bars(image):
    """Bits shown by the 4 bars (8 px each) of a 32 px centre crop of a 160x64 indexed frame."""
    gray = image.mean(axis=2)
    return [int(gray[:, 8 * b + 2 : 8 * b + 6].mean() > 128) for b in range(4)]


def test_short_side_resize_and_centre_crop(indexed_video):
    # 160x64 -> 80x32 -> central 32 columns = source columns 48..112 = bars 3..6,
    # so the crop of frame 8 * j shows the bits of j
    path = indexed_video(n_frames=65, fps=10.0, size=(160, 64))
    (clip,) = read_clips(path, clip_frames=9, frame_stride=8, size=32)
    assert clip.shape == (9, 32, 32, 3)
    for j, image in enumerate(clip):
        assert crop_bars(image) == [(j >> b) & 1 for b in range(4)], j


@pytest.mark.parametrize("rotation", [0, 90])
def test_rotation_is_applied_before_cropping(tmp_path, rotation):
    path = write_indexed_video(tmp_path / "r.mp4", 41, 10.0, (160, 64), rotation=rotation)
    (clip,) = read_clips(path, clip_frames=6, frame_stride=8, size=32)
    gray = clip[5].mean(axis=2)  # frame 40: bars 3 and 5 -> two of the four crop bars
    across_columns, across_rows = np.ptp(gray.mean(axis=0)), np.ptp(gray.mean(axis=1))
    if rotation:  # displayed upright: bars run horizontally
        assert across_rows > 100 > 20 > across_columns
    else:
        assert across_columns > 100 > 20 > across_rows


def test_decoding_streams(square_video, monkeypatch):
    calls = []
    original = clips_module._frame_to_rgb

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(clips_module, "_frame_to_rgb", counting)
    generator = read_clips(square_video(60), clip_frames=4, frame_stride=3, size=80)
    first = next(generator)
    # only the 4 kept frames of the first clip were converted so far
    assert len(calls) == 4 and indices(first) == [0, 3, 6, 9]
    generator.close()


def test_bad_videos_raise_decode_errors(tmp_path, indexed_video):
    zero = write_zero_frame_video(tmp_path / "zero.mp4")
    with pytest.raises(VideoDecodeError, match="zero.mp4: no decodable video frames"):
        list(read_clips(zero, 4, 2, 32))
    audio = write_audio_only(tmp_path / "audio.mp4")
    with pytest.raises(VideoDecodeError, match="audio.mp4: no video stream"):
        list(read_clips(audio, 4, 2, 32))
    with pytest.raises(VideoDecodeError, match="missing.mp4"):
        next(read_clips(tmp_path / "missing.mp4", 4, 2, 32))
    with pytest.raises(ValueError):
        next(read_clips(indexed_video(), 0, 2, 32))


def test_broken_stream_raises_after_complete_clips(tmp_path):
    full = write_indexed_video(
        tmp_path / "full.mp4", 80, 10.0, (80, 80), options={"movflags": "faststart"}
    )
    cut = write_truncated(full, tmp_path / "cut.mp4", 0.8)
    got = []
    with pytest.raises(VideoDecodeError, match="cut.mp4: stream breaks after"):
        for clip in read_clips(cut, clip_frames=4, frame_stride=1, size=80):
            got.append(indices(clip))
    assert got and got == [list(range(4 * c, 4 * c + 4)) for c in range(len(got))]


def test_clips_from_frames():
    frames = (np.arange(10)[:, None, None, None] * np.ones((1, 2, 3, 3))).astype(np.uint8)
    clips = clips_from_frames(frames, 4)
    assert clips.shape == (3, 4, 2, 3, 3) and clips.dtype == np.uint8
    assert clips[:, :, 0, 0, 0].tolist() == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 9, 9]]
    assert clips_from_frames(frames[:8], 4)[:, :, 0, 0, 0].tolist() == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert clips_from_frames(frames[:2], 8)[0, :, 0, 0, 0].tolist() == [0, 1] + [1] * 6
    with pytest.raises(ValueError):
        clips_from_frames(frames[:0], 4)


def test_to_clip_tensor():
    rng = np.random.default_rng(0)
    clips = rng.integers(0, 256, size=(2, 3, 5, 4, 3), dtype=np.uint8)
    tensor = to_clip_tensor(clips)
    assert tensor.shape == (2, 3, 3, 5, 4) and tensor.dtype == torch.float32
    assert tensor.is_contiguous()
    np.testing.assert_allclose(tensor.numpy(), clips.transpose(0, 4, 1, 2, 3) / 255.0, rtol=1e-6)
    assert 0.0 <= tensor.min() and tensor.max() <= 1.0
    with pytest.raises(ValueError):
        to_clip_tensor(clips[0])
    with pytest.raises(ValueError):
        to_clip_tensor(clips.astype(np.float32))
