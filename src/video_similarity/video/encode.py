"""Writing videos with PyAV, deterministically: same frames -> same bytes.

The default codec is FFmpeg's own MPEG-4 Part 2 encoder at a fixed quantizer,
or at a target bit rate (its one-pass rate control, on one thread).
libx264 is supported but, driven through PyAV, its output was seen to vary from
run to run on identical frames, which breaks the demo corpus's reproducibility.
"""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import numpy as np

from video_similarity.atomic import atomic_path


def even_size(image: np.ndarray) -> np.ndarray:
    """Crop one row/column if needed: yuv420p needs even width and height."""
    h, w = image.shape[:2]
    return image[: h - h % 2, : w - w % 2]


def write_video(
    path: str | Path,
    frames: Iterable[np.ndarray],
    fps: float,
    quality: int = 4,
    codec: str = "mpeg4",
    bit_rate: int | None = None,
) -> int:
    """Encode RGB uint8 frames into an mp4 atomically; returns the number of frames.

    ``quality`` is the quantizer (mpeg4: 1 best .. 31 worst) or the CRF (libx264);
    ``bit_rate`` (bits per second), when given, replaces it with rate control (mpeg4).

    Frame ``k`` gets presentation time ``k / fps``. All frames must have the size of
    the first one (after cropping to even dimensions).
    """
    import av

    rate = Fraction(fps).limit_denominator(1001)
    count = 0
    with atomic_path(path) as tmp:
        with av.open(str(tmp), mode="w", format="mp4") as container:
            options = {"crf": str(quality), "preset": "veryfast", "threads": "1"} if codec == "libx264" else {}
            stream = container.add_stream(codec, rate=rate, options=options)
            stream.pix_fmt = "yuv420p"
            stream.codec_context.thread_count = 1
            if codec != "libx264" and bit_rate is not None:  # one-pass rate control, as most uploads are encoded
                stream.codec_context.bit_rate = int(bit_rate)
                stream.codec_context.gop_size = max(1, int(round(2 * float(fps))))  # a key frame every 2 s
            elif codec != "libx264":  # a constant quantizer
                stream.codec_context.qmin = stream.codec_context.qmax = int(quality)
            for image in frames:
                image = even_size(np.ascontiguousarray(image, dtype=np.uint8))
                if count == 0:
                    stream.width, stream.height = image.shape[1], image.shape[0]
                elif image.shape[:2] != (stream.height, stream.width):
                    raise ValueError(
                        f"{path}: frame {count} is {image.shape[1]}x{image.shape[0]}, "
                        f"expected {stream.width}x{stream.height}"
                    )
                frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuv420p")
                frame.pts = count
                frame.time_base = 1 / rate
                for packet in stream.encode(frame):
                    container.mux(packet)
                count += 1
            for packet in stream.encode():
                container.mux(packet)
    return count
