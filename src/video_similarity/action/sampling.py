"""Which decoded frames make a clip: the notes' sampling and the released TVN-1 input."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ClipSampling:
    """``frames`` frames, ``stride`` apart, resized to ``size`` x ``size``; a short video repeats its last frame."""

    frames: int = 8
    stride: int = 10
    size: int = 200


#: The notes' input (8 of the first 80 frames, every 10th, 200 x 200) and the released TVN-1's (2 frames, stride 4, 224 px).
SAMPLINGS = {"notes": ClipSampling(8, 10, 200), "released_tvn1": ClipSampling(2, 4, 224)}


def clip_indices(n_frames: int, sampling: ClipSampling, start: int = 0) -> list[int]:
    """Frame indices of one clip from ``start``: every ``stride``-th, the last frame repeated past the end."""
    if n_frames < 1:
        raise ValueError("a clip needs a video with at least one frame")
    last = n_frames - 1
    return [min(start + k * sampling.stride, last) for k in range(sampling.frames)]


def clip_starts(n_frames: int, sampling: ClipSampling, clips: int) -> list[int]:
    """``clips`` uniformly spaced start frames, multiples of the stride (video-level evaluation averages their
    predictions); one clip from frame 0 when the video is short (the notes' "8 of the first 80")."""
    span = (sampling.frames - 1) * sampling.stride + 1
    strides = max(0, n_frames - span) // sampling.stride  # how many strides the first clip can move
    if clips <= 1 or strides == 0:
        return [0]
    return sorted({sampling.stride * round(i * strides / (clips - 1)) for i in range(clips)})
