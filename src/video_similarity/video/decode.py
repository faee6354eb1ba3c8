"""Decoding videos with PyAV: sampling frames at a fixed rate with VSC timestamps.

The frame for output interval ``[k / fps, (k + 1) / fps)`` is the frame *displayed*
at the interval's start (the last frame whose presentation time is <= k / fps).
Sampling goes by presentation timestamps, so variable frame rate and odd frame
rates need no special case. Rotation metadata (display matrix) is applied.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np


class VideoDecodeError(RuntimeError):
    """A video that cannot be decoded; the message names the file and the problem."""

    def __init__(self, path: str | Path, problem: str):
        super().__init__(f"{path}: {problem}")
        self.path = str(path)
        self.problem = problem


@dataclass(frozen=True)
class SampledFrame:
    """One sampled frame: its index, its VSC interval and the RGB pixels (H, W, 3) uint8."""

    index: int
    start: float
    end: float
    image: np.ndarray


@dataclass(frozen=True)
class VideoInfo:
    """Container-level facts, as PyAV reports them (no decoding)."""

    path: str
    duration: float
    fps: float
    width: int
    height: int


def resized_shape(width: int, height: int, short_side: int | None, max_long_side: int | None = None) -> tuple[int, int]:
    """(width, height) scaled so that the shorter side equals ``short_side`` (None: unchanged), the longer at most ``max_long_side``."""
    scale = short_side / min(width, height) if short_side else 1.0
    if max_long_side and max(width, height) * scale > max_long_side:
        scale = max_long_side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _open(path: str | Path):
    import av

    path = Path(path)
    if not path.is_file():
        raise VideoDecodeError(path, "file does not exist")
    if path.stat().st_size == 0:
        raise VideoDecodeError(path, "file is empty (0 bytes)")
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise VideoDecodeError(path, f"not a readable media file ({exc})") from exc
    if not container.streams.video:
        kinds = sorted({s.type for s in container.streams}) or ["none"]
        container.close()
        raise VideoDecodeError(path, f"no video stream (streams: {', '.join(kinds)})")
    return container


def probe(path: str | Path) -> VideoInfo:
    """Read duration, frame rate and size from the container header."""
    container = _open(path)
    try:
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or Fraction(0)
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / 1_000_000
        else:
            duration = float("nan")
        return VideoInfo(str(path), duration, float(rate), stream.width, stream.height)
    finally:
        container.close()


def _frame_to_rgb(frame, short_side: int | None, reformatter, max_long_side: int | None = None) -> np.ndarray:
    rotation = getattr(frame, "rotation", 0) or 0
    quarter_turns = round(rotation / 90) % 4
    width, height = frame.width, frame.height
    out_w, out_h = resized_shape(width, height, short_side, max_long_side)
    if quarter_turns % 2 == 1:  # the display is transposed: size the stored frame accordingly
        out_h, out_w = resized_shape(height, width, short_side, max_long_side)
    image = reformatter.reformat(
        frame, width=out_w, height=out_h, format="rgb24", interpolation="AREA"
    ).to_ndarray()
    if quarter_turns:
        image = np.ascontiguousarray(np.rot90(image, quarter_turns))
    return image


def sample_frames(
    path: str | Path,
    fps: float = 1.0,
    short_side: int | None = None,
    threads: int = 1,
    max_long_side: int | None = None,
) -> Iterator[SampledFrame]:
    """Yield one RGB frame per ``1/fps`` seconds of video, in order.

    Raises VideoDecodeError for a missing, empty, unreadable, audio-only or
    frameless file. A stream that breaks after some frames were sampled also
    raises, after those frames were yielded; the error says where it broke.
    """
    import av
    from av.video.reformatter import VideoReformatter

    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    container = _open(path)
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO" if threads > 1 else "SLICE"
        stream.codec_context.thread_count = threads
        time_base = float(stream.time_base or 1)  # float: Fraction math per frame is slow
        reformatter = VideoReformatter()  # keeps its scaling context across frames
        nominal = float(stream.average_rate or stream.guessed_rate or 25)
        origin = None
        previous = None  # (time, frame, cached rgb)
        index = 0
        decoded = 0
        last_time = 0.0
        last_duration = 1.0 / nominal

        def emit(entry) -> SampledFrame:
            nonlocal index
            if entry[2] is None:
                entry[2] = _frame_to_rgb(entry[1], short_side, reformatter, max_long_side)
            sampled = SampledFrame(index, index / fps, (index + 1) / fps, entry[2])
            index += 1
            return sampled

        try:
            for frame in container.decode(stream):
                if frame.pts is not None:
                    raw = frame.pts * time_base
                else:
                    raw = decoded / nominal
                if origin is None:
                    origin = raw
                t = raw - origin
                if previous is not None and t < previous[0]:
                    t = previous[0]  # never let time run backwards (broken pts)
                decoded += 1
                current = [t, frame, None]
                while index / fps < t - 1e-9:
                    yield emit(previous if previous is not None else current)
                previous = current
                last_time = t
                if frame.duration:
                    last_duration = frame.duration * time_base
        except av.error.FFmpegError as exc:
            if decoded == 0:
                raise VideoDecodeError(path, f"cannot decode video ({exc})") from exc
            raise VideoDecodeError(
                path, f"stream breaks after {decoded} frames at {last_time:.3f}s ({exc})"
            ) from exc
        if previous is None:
            raise VideoDecodeError(path, "no decodable video frames")
        end = last_time + last_duration
        while index / fps < end - 1e-9:
            yield emit(previous)
    finally:
        container.close()


def expected_sample_count(duration: float, fps: float = 1.0) -> int:
    """Number of samples ``sample_frames`` yields for a video of this duration."""
    return max(1, math.ceil(duration * fps - 1e-9))
