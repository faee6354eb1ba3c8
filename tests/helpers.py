"""Test helpers: videos that encode their frame index, and decoding frames by time."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image

BITS = 10


def index_image(index: int, size: tuple[int, int]) -> np.ndarray:
    """Frame ``index`` as 10 vertical bars, bar b white when bit b of index is set."""
    w, h = size
    image = np.zeros((h, w, 3), np.uint8)
    bar = w // BITS
    for b in range(BITS):
        if index >> b & 1:
            image[:, b * bar : (b + 1) * bar] = 255
    return image


def read_index(image: np.ndarray) -> int:
    """Inverse of index_image, robust to compression and resizing."""
    w = image.shape[1]
    bar = w / BITS
    gray = image.mean(axis=2)
    value = 0
    for b in range(BITS):
        x0, x1 = int(b * bar + bar * 0.3), int((b + 1) * bar - bar * 0.3)
        if gray[:, x0 : max(x1, x0 + 1)].mean() > 128:
            value |= 1 << b
    return value


def write_indexed_video(path, n_frames, fps, size, pts=None, codec="libx264", rotation=0, options=None):
    """Write frames 0..n-1; ``pts`` (seconds per frame) makes a variable frame rate,
    ``rotation`` (degrees counter-clockwise) adds a display matrix."""
    import av

    path = Path(path)
    time_base = Fraction(1, 1000) if pts is not None else 1 / Fraction(fps).limit_denominator(1001)
    with av.open(str(path), "w", format="mp4", options=options or {}) as container:
        stream = container.add_stream(codec, rate=Fraction(fps).limit_denominator(1001))
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        if rotation:
            stream.set_display_rotation(rotation)
        if pts is not None:
            stream.codec_context.time_base = time_base
        for i in range(n_frames):
            frame = av.VideoFrame.from_ndarray(index_image(i, size), format="rgb24")
            frame.pts = int(round(pts[i] * 1000)) if pts is not None else i
            frame.time_base = time_base
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def decode_all(path) -> list[tuple[float, np.ndarray]]:
    """Every frame of a video with its presentation time (seconds from the first frame)."""
    import av

    out = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        origin = None
        for frame in container.decode(stream):
            t = float(frame.pts * stream.time_base)
            origin = t if origin is None else origin
            out.append((t - origin, frame.to_ndarray(format="rgb24")))
    return out


def frame_at(frames: list[tuple[float, np.ndarray]], t: float) -> np.ndarray:
    """The frame displayed at time t (last frame whose time is <= t)."""
    chosen = frames[0][1]
    for time, image in frames:
        if time <= t + 1e-6:
            chosen = image
        else:
            break
    return chosen


def thumbnail(image: np.ndarray, size=(64, 48)) -> np.ndarray:
    """Gray float thumbnail for comparing frames of different sizes."""
    return np.asarray(Image.fromarray(image).convert("L").resize(size, Image.BILINEAR), np.float32)


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / (np.sqrt((a * a).sum() * (b * b).sum()) + 1e-9))


def write_audio_only(path, seconds=1.0, rate=44100):
    """An mp4 with an AAC audio stream and no video stream."""
    import av

    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=rate)
        stream.layout = "mono"
        for start in range(0, int(seconds * rate), 1024):
            t = np.arange(start, start + 1024) / rate
            frame = av.AudioFrame.from_ndarray((0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None], format="fltp", layout="mono")
            frame.sample_rate, frame.pts = rate, start
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return Path(path)


def write_zero_frame_video(path):
    """An mp4 that declares a video stream but holds no frame (empty_moov keeps the track)."""
    import av

    with av.open(str(path), "w", format="mp4", options={"movflags": "empty_moov"}) as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        container.start_encoding()
        for packet in stream.encode():
            container.mux(packet)
    return Path(path)


def write_truncated(src, dst, fraction=0.5):
    """The first part of a file's bytes (use a faststart source so the cut lands in the frames)."""
    data = Path(src).read_bytes()
    Path(dst).write_bytes(data[: int(len(data) * fraction)])
    return Path(dst)


def assert_plot(path) -> None:
    """A PNG figure with something drawn on it: an image of figure size, not one flat colour (an empty axes is mostly white)."""
    with Image.open(path) as image:
        assert image.format == "PNG" and min(image.size) >= 200, (path, image.size)
        pixels = np.asarray(image.convert("RGB")).reshape(-1, 3)
    colours, counts = np.unique(pixels, axis=0, return_counts=True)
    assert len(colours) > 16 and counts.max() < 0.97 * len(pixels), f"{path}: {len(colours)} colours, {counts.max() / len(pixels):.1%} one colour"

