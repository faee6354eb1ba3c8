"""The frame descriptor network the VSC ensemble trains (persistence: :mod:`~video_similarity.models.checkpoint`).

``DescriptorModel`` = backbone trunk -> GeM -> linear projection -> L2
normalisation, the SSCD-style design the VSC-2022 rank-1 trains with
self-supervised contrastive losses. Unit-norm outputs make inner product equal
cosine similarity, which the search and score normalisation rely on.

Input convention: RGB float images in **[0, 1]**, shape (B, 3, H, W) (what
``torchvision.transforms.functional.to_tensor`` / ``uint8 / 255`` gives). The
ImageNet mean/std normalisation happens inside the model, so an exported
TorchScript file carries its own preprocessing and callers cannot get it wrong.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from video_similarity.models.backbones import build_trunk
from video_similarity.models.file_encoders import IMAGENET_MEAN, IMAGENET_STD
from video_similarity.models.pooling import GeM


#: The checkpoint ``kind`` of a trained descriptor model.
CHECKPOINT_KIND = "descriptor"


class DescriptorModel(nn.Module):
    """Images (B, 3, H, W) in [0, 1] -> unit descriptors (B, dim).

    ``weights_path`` is a local torchvision state-dict file for the backbone
    (loaded by the one weights loader, its head ignored); without it the
    backbone starts from random initialisation. ``input_size`` is the square
    side frames are resized to (the encoder contract; no crop: copies live at
    borders too).
    """

    kind = "frames"

    def __init__(
        self,
        backbone: str,
        dim: int = 256,
        weights_path: str | Path | None = None,
        gem_p: float = 3.0,
        input_size: int = 224,
    ):
        super().__init__()
        if dim <= 0:
            raise ValueError(f"descriptor dim must be positive, got {dim}")
        self.backbone_name = backbone
        self.dim = int(dim)
        self.input_size = int(input_size)
        self.config = {"backbone": backbone, "dim": self.dim, "gem_p": float(gem_p), "input_size": self.input_size}
        self.trunk, self.channels = build_trunk(backbone, weights_path)
        self.pool = GeM(p=gem_p)
        self.proj = nn.Linear(self.channels, self.dim)
        # Not persistent: constants of the convention, not learned state.
        mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
        std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
        self.register_buffer("mean", mean, persistent=False)
        self.register_buffer("std", std, persistent=False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = (images - self.mean) / self.std
        x = self.pool(self.trunk(x))
        return F.normalize(self.proj(x), p=2.0, dim=-1)


def descriptor_encoder(
    backbone: str,
    weights_path: str | Path | None = None,
    dim: int = 256,
    gem_p: float = 3.0,
    input_size: int = 224,
) -> DescriptorModel:
    """Registry builder: a descriptor model over a torchvision trunk (``weights_path``: its ImageNet state dict)."""
    return DescriptorModel(backbone, dim=dim, weights_path=weights_path, gem_p=gem_p, input_size=input_size)
