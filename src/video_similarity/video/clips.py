"""Cutting videos into the fixed-length clips that the clip encoders take.

Clip encoders (X3D, Slow-R50) were trained on T frames taken every
``frame_stride`` frames of the source at its native rate, so clips are cut
from decoded frames by count, not by time: every ``frame_stride``-th decoded
frame is kept and consecutive kept frames form non-overlapping clips. Decoding
streams (at most one clip of frames is held), because reference videos can be
long. Each kept frame is resized so its short side equals ``size`` and
centre-cropped to a square, as in PyTorchVideo's evaluation transform. A short
last clip is padded by repeating its last frame, so every video, however
short, gives at least one clip.

Frame archives sampled at 1 fps (3D-CSL-style models) are cut the same way by
:func:`clips_from_frames`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch

from video_similarity.video.decode import VideoDecodeError, _frame_to_rgb, _open


def center_crop(image: np.ndarray, size: int) -> np.ndarray:
    """The central ``size`` x ``size`` square of an (H, W, C) image (H, W >= size)."""
    height, width = image.shape[:2]
    if height < size or width < size:
        raise ValueError(f"cannot crop {size}x{size} from a {width}x{height} image")
    top, left = (height - size) // 2, (width - size) // 2
    return image[top : top + size, left : left + size]


def _padded(frames: list[np.ndarray], clip_frames: int) -> np.ndarray:
    frames = frames + [frames[-1]] * (clip_frames - len(frames))
    return np.stack(frames)


def read_clips(
    path: str | Path,
    clip_frames: int,
    frame_stride: int,
    size: int,
    max_clips: int | None = None,
    threads: int = 1,
) -> Iterator[np.ndarray]:
    """Yield RGB uint8 clips (clip_frames, size, size, 3) of a video, in order.

    Decoded frames 0, s, 2s, ... (s = ``frame_stride``) are grouped into
    non-overlapping clips of ``clip_frames``; the last clip, if partial, is
    padded with its last frame. Rotation metadata is applied before cropping.
    ``max_clips`` stops early. Raises VideoDecodeError (naming the file) for a
    missing, unreadable or frameless video, and for a stream that breaks
    (after yielding the clips completed before the break).
    """
    import av
    from av.video.reformatter import VideoReformatter

    if clip_frames < 1 or frame_stride < 1 or size < 1:
        raise ValueError(
            f"clip_frames, frame_stride and size must be >= 1, got {clip_frames}, {frame_stride}, {size}"
        )
    if max_clips is not None and max_clips < 1:
        raise ValueError(f"max_clips must be >= 1 or None, got {max_clips}")
    container = _open(path)
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO" if threads > 1 else "SLICE"
        stream.codec_context.thread_count = threads
        reformatter = VideoReformatter()
        buffer: list[np.ndarray] = []
        decoded = 0
        emitted = 0
        try:
            for frame in container.decode(stream):
                decoded += 1
                if (decoded - 1) % frame_stride:
                    continue
                buffer.append(center_crop(_frame_to_rgb(frame, size, reformatter), size))
                if len(buffer) == clip_frames:
                    yield np.stack(buffer)
                    buffer = []
                    emitted += 1
                    if max_clips is not None and emitted >= max_clips:
                        return
        except av.error.FFmpegError as exc:
            if decoded == 0:
                raise VideoDecodeError(path, f"cannot decode video ({exc})") from exc
            raise VideoDecodeError(path, f"stream breaks after {decoded} frames ({exc})") from exc
        if decoded == 0:
            raise VideoDecodeError(path, "no decodable video frames")
        if buffer:
            yield _padded(buffer, clip_frames)
    finally:
        container.close()


def clips_from_frames(frames: np.ndarray, clip_frames: int) -> np.ndarray:
    """Frames (N, H, W, 3) -> clips (ceil(N / clip_frames), clip_frames, H, W, 3), last padded."""
    frames = np.asarray(frames)
    if frames.ndim != 4:
        raise ValueError(f"expected frames (N, H, W, C), got shape {frames.shape}")
    if clip_frames < 1:
        raise ValueError(f"clip_frames must be >= 1, got {clip_frames}")
    n = frames.shape[0]
    if n == 0:
        raise ValueError("no frames to cut into clips")
    n_clips = -(-n // clip_frames)
    pad = n_clips * clip_frames - n
    if pad:
        frames = np.concatenate([frames, np.repeat(frames[-1:], pad, axis=0)])
    return frames.reshape(n_clips, clip_frames, *frames.shape[1:])


def to_clip_tensor(clips: np.ndarray | torch.Tensor | Sequence[np.ndarray]) -> torch.Tensor:
    """uint8 clips (B, T, H, W, 3), or a list of (T, H, W, 3) -> float32 (B, 3, T, H, W) in [0, 1]."""
    if isinstance(clips, (list, tuple)):
        clips = np.stack(clips)
    tensor = torch.as_tensor(clips)
    if tensor.dim() != 5 or tensor.shape[-1] != 3:
        raise ValueError(f"expected clips (B, T, H, W, 3), got shape {tuple(tensor.shape)}")
    if tensor.dtype != torch.uint8:
        raise ValueError(f"expected uint8 clips, got {tensor.dtype}")
    return tensor.permute(0, 4, 1, 2, 3).contiguous().to(torch.float32).div_(255.0)
