"""The alignment network: a candidate pair's similarity matrix -> a heat map of copied (query, reference) seconds.

The VSC-2022 rank-1 localised copies with a network over the similarity matrix
(an HRNet heat map, then connected components and a line fit). This is the same
idea at a CPU size: a fully convolutional stack at the matrix's own resolution
(no down-sampling, since a 2-second copy is 2 cells), whose dilations (1, 2, 4,
8, 1 by default) give a receptive field of 33 cells: enough to see a diagonal
line, its slope and the blocks of a static scene around it.

Input: sims (B, H, W) float (query rows x reference rows, score-normalised inner
products: what every localiser reads), mask (B, H, W) bool, True at real cells
(a batch of matrices is padded). Three channels are derived inside the model,
so that the TorchScript file needs no project code: the similarity, and its
excess over the row's and the column's best real cell ("is this the best match
of this second?"). Output: logits (B, H, W); padded cells are meaningless.
Trained by task ``alignment`` (``training/tasks/alignment.py``).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

CHECKPOINT_KIND = "alignment"  # its checkpoints: models/checkpoint.py (format 3)
PAD = -4.0  # below any score-normalised similarity (beta <= 2): the value padded cells carry


class AlignmentNet(nn.Module):
    """Similarity matrices (B, H, W) + mask (B, H, W) -> copy logits (B, H, W)."""

    def __init__(self, width: int, dilations: tuple[int, ...] | list[int]):
        super().__init__()
        if width < 1 or not dilations or min(dilations) < 1:
            raise ValueError("width and every dilation must be positive")
        self.config = {"width": int(width), "dilations": [int(d) for d in dilations]}
        self.pad = PAD
        layers: list[nn.Module] = []
        channels = 3
        for d in dilations:
            layers += [nn.Conv2d(channels, width, 3, padding=d, dilation=d), nn.GroupNorm(4 if width % 4 == 0 else 1, width), nn.ReLU()]
            channels = width
        self.body = nn.Sequential(*layers)
        self.head = nn.Conv2d(width, 1, 1)

    def forward(self, sims: Tensor, mask: Tensor) -> Tensor:
        if sims.dim() != 3 or mask.shape != sims.shape:
            raise ValueError("sims and mask must both be (B, H, W)")
        valid = mask.to(device=sims.device, dtype=torch.bool)
        x = sims.masked_fill(~valid, self.pad)
        row_best = x.amax(dim=2, keepdim=True)
        col_best = x.amax(dim=1, keepdim=True)
        features = torch.stack([x, x - row_best, x - col_best], dim=1).masked_fill(~valid.unsqueeze(1), 0.0)
        return self.head(self.body(features)).squeeze(1)


def pad_matrices(matrices: list, value: float = PAD) -> tuple:
    """Stack matrices of different shapes into (B, H, W) float32 with a (B, H, W) mask (numpy in, numpy out)."""
    import numpy as np

    h = max(m.shape[0] for m in matrices)
    w = max(m.shape[1] for m in matrices)
    out = np.full((len(matrices), h, w), value, np.float32)
    mask = np.zeros((len(matrices), h, w), bool)
    for i, m in enumerate(matrices):
        out[i, : m.shape[0], : m.shape[1]] = m
        mask[i, : m.shape[0], : m.shape[1]] = True
    return out, mask
