"""PDQ perceptual hashing: the classical frame-descriptor baseline of the VSC paper.

Each frame's 256-bit PDQ hash becomes a +1/-1 float vector, so the same
inner-product search used for learned descriptors applies: for two hashes,
``a @ b == 256 - 2 * hamming(a, b)``.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pdqhash
import torch
from torch import nn


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


class PDQEncoder(nn.Module):
    """PDQ behind the encoder contract: frames (B, 3, H, W) in [0, 1] at their own size -> unit rows (B, 256).

    Not a network: frames go back to uint8 (exactly: they came from uint8) and
    each is hashed; the bits become +-1/16, so the inner product of two rows is
    ``1 - 2 * hamming / 256``.
    """

    kind = "frames"
    input_size = None  # hashed at the archive's own resolution
    dim = PDQ_DIM

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        frames = (images.detach().cpu() * 255.0).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
        return torch.from_numpy(pdq_features(frames) / np.float32(np.sqrt(PDQ_DIM))).to(images.device)


def pdq_encoder(weights_path=None) -> PDQEncoder:
    """Registry builder; PDQ has no weights."""
    if weights_path is not None:
        raise ValueError("pdq has no weights")
    return PDQEncoder()
