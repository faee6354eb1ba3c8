"""PDQ perceptual hashing: the classical frame-descriptor baseline of the VSC paper.

Each frame's 256-bit PDQ hash becomes a +1/-1 float vector, so the same
inner-product search used for learned descriptors applies: for two hashes,
``a @ b == 256 - 2 * hamming(a, b)``.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pdqhash

from video_similarity.frames.archive import FrameArchive

PDQ_DIM = 256


def pdq_vector(frame: np.ndarray) -> np.ndarray:
    """The PDQ hash of one RGB uint8 frame as 256 float32 values in {-1, +1}.

    PDQ's quality score is dropped: flat frames hash unreliably, but the
    baseline scores every sampled frame, as the paper's baseline did.
    """
    image = np.asarray(frame)
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] < 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an RGB uint8 frame (H, W, 3), got {image.dtype} {image.shape}")
    bits, _quality = pdqhash.compute(np.ascontiguousarray(image[:, :, :3]))
    return np.where(np.asarray(bits) > 0, 1.0, -1.0).astype(np.float32)


def pdq_features(frames: Iterable[np.ndarray]) -> np.ndarray:
    """PDQ vectors of frames, (N, 256) float32 in {-1, +1}; (0, 256) for no frames."""
    vectors = [pdq_vector(frame) for frame in frames]
    if not vectors:
        return np.zeros((0, PDQ_DIM), np.float32)
    return np.stack(vectors)


def pdq_archive(archive: FrameArchive) -> tuple[np.ndarray, np.ndarray]:
    """VSC timestamps (N, 2) and PDQ features (N, 256) of every archived frame."""
    timestamps = np.asarray(archive.timestamps, dtype=np.float64).reshape(-1, 2)
    return timestamps, pdq_features(archive.frames())
