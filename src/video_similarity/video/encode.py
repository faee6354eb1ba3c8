"""Writing videos with PyAV, deterministically (one encoder thread, fixed settings)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import numpy as np


def even_size(image: np.ndarray) -> np.ndarray:
    """Crop one row/column if needed: yuv420p needs even width and height."""
    h, w = image.shape[:2]
    return image[: h - h % 2, : w - w % 2]


def write_video(
    path: str | Path,
    frames: Iterable[np.ndarray],
    fps: float,
    crf: int = 20,
    codec: str = "libx264",
    preset: str = "veryfast",
) -> int:
    """Encode RGB uint8 frames into an mp4 atomically; returns the number of frames.

    Frame ``k`` gets presentation time ``k / fps``. All frames must have the size of
    the first one (after cropping to even dimensions).
    """
    import av

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    rate = Fraction(fps).limit_denominator(1001)
    count = 0
    try:
        with av.open(str(tmp), mode="w", format="mp4") as container:
            stream = container.add_stream(codec, rate=rate)
            stream.pix_fmt = "yuv420p"
            stream.codec_context.thread_count = 1
            if codec == "libx264":
                stream.options = {"crf": str(crf), "preset": preset, "threads": "1"}
            else:
                stream.options = {"qscale": str(max(1, min(31, crf // 2)))}
            for image in frames:
                image = even_size(np.ascontiguousarray(image, dtype=np.uint8))
                if count == 0:
                    stream.width, stream.height = image.shape[1], image.shape[0]
                elif image.shape[:2] != (stream.height, stream.width):
                    raise ValueError(
                        f"{path}: frame {count} is {image.shape[1]}x{image.shape[0]}, "
                        f"expected {stream.width}x{stream.height}"
                    )
                frame = av.VideoFrame.from_ndarray(image, format="rgb24")
                frame.pts = count
                frame.time_base = 1 / rate
                for packet in stream.encode(frame):
                    container.mux(packet)
                count += 1
            for packet in stream.encode():
                container.mux(packet)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return count
