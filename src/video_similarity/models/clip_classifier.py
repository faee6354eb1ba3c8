"""Clip classifiers the action pipelines train: TVN-1 from scratch, or any registry clip encoder fine-tuned with a new head.

One ``config`` rebuilds either (it is the checkpoint's config):

* ``{"network": "tvn1", "num_classes": C, "dropout": p}``: TVN-1 with its own
  head (:mod:`video_similarity.models.tvn`), checkpoint kind ``tiny_video_net``,
  so the registry's ``tvn1`` encoder reads the file as its weights;
* ``{"encoder": <registry job entry>, "num_classes": C, "dropout": p}``: the
  encoder's unit rows, scaled by sqrt(dim) (unit variance per coordinate),
  dropout and a linear head (SEVERE's fine-tuning), kind ``clip_classifier``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

CHECKPOINT_KIND = "clip_classifier"


class ClipClassifier(nn.Module):
    """A registry clip encoder with a linear head: clips (B, 3, T, S, S) in [0, 1] -> logits (B, C)."""

    def __init__(self, encoder: nn.Module, num_classes: int, dropout: float):
        super().__init__()
        self.encoder, self.scale = encoder, math.sqrt(encoder.dim)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(encoder.dim, num_classes)
        nn.init.normal_(self.fc.weight, std=0.01)
        nn.init.zeros_(self.fc.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.dropout(self.encoder(x) * self.scale))


def checkpoint_kind(config: dict) -> str:
    from video_similarity.models.tvn import CHECKPOINT_KIND as TVN_KIND

    return TVN_KIND if config.get("network") == "tvn1" else CHECKPOINT_KIND


def checkpoint_config(config: dict, model: nn.Module, training: dict) -> dict:
    """A checkpoint's config: TVN-1's own (it rebuilds the network); a fine-tuned encoder's also records how it was trained."""
    return model.config if config.get("network") == "tvn1" else {**config, "training": training}


def build_classifier(config: dict) -> nn.Module:
    """The classifier ``config`` describes, freshly initialised (the encoder's own weights loaded when it names them)."""
    num_classes, dropout = int(config["num_classes"]), float(config["dropout"])
    if config.get("network") == "tvn1":
        from video_similarity.models.tvn import tvn1

        return tvn1(num_classes, dropout=dropout)
    if "encoder" not in config:
        raise ValueError(f"a clip classifier config names a network (tvn1) or a registry encoder, got {sorted(config)}")
    from video_similarity.models.registry import build_from_entry

    encoder = build_from_entry(config["encoder"])
    if getattr(encoder, "kind", None) != "clips":
        raise ValueError(f"fine-tuning needs a clip encoder; {config['encoder']['builder']} is of kind {getattr(encoder, 'kind', None)!r}")
    return ClipClassifier(encoder, num_classes, dropout)
