"""torchvision trunks for the descriptor encoders: one function per network, weights loaded separately.

Modelled on torchvision's builders (``resnet50(weights=...)``) but split in two
steps because training machines here have no network: a trunk function only
constructs the architecture (random init), and the one weights loader
(:mod:`video_similarity.models.weights`) fills it from a local file.

A trunk function returns ``(trunk, channels)``: ``trunk`` maps images
(B, 3, H, W) to the last feature map (B, channels, h, w), i.e. the classifier
minus its global pooling and head. The trunk is an ``nn.Sequential`` whose
children keep their torchvision names (``conv1``, ``layer4``, ``features``...),
so its state-dict keys are exactly the classifier's minus the head and
torchvision checkpoints load without renaming.

This table is not a registry: every trunk becomes an encoder of the one
registry (:mod:`video_similarity.models.registry`) as a descriptor model.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import torchvision.models as tvm
from torch import nn

from video_similarity.models.weights import load_state_dict_file

# Key prefixes of torchvision classification heads: present in their checkpoints, not in a trunk.
HEAD_PREFIXES: tuple[str, ...] = ("fc.", "classifier.", "head.", "heads.")


def _keep(model: nn.Module, names: list[str]) -> nn.Sequential:
    """The named children of ``model``, in order, under their original names."""
    return nn.Sequential(OrderedDict((name, getattr(model, name)) for name in names))


_RESNET_TRUNK = ["conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4"]

#: trunk name -> () -> (trunk, channels)
TRUNKS: dict[str, Callable[[], tuple[nn.Module, int]]] = {
    "resnet18": lambda: (_keep(tvm.resnet18(weights=None), _RESNET_TRUNK), 512),
    "resnet34": lambda: (_keep(tvm.resnet34(weights=None), _RESNET_TRUNK), 512),
    "resnet50": lambda: (_keep(tvm.resnet50(weights=None), _RESNET_TRUNK), 2048),
    "efficientnet_b0": lambda: (_keep(tvm.efficientnet_b0(weights=None), ["features"]), 1280),
    "mobilenet_v3_small": lambda: (_keep(tvm.mobilenet_v3_small(weights=None), ["features"]), 576),
    "mobilenet_v3_large": lambda: (_keep(tvm.mobilenet_v3_large(weights=None), ["features"]), 960),
}


def build_trunk(name: str, weights_path: str | Path | None = None) -> tuple[nn.Module, int]:
    """The trunk ``name`` (random init), filled from a torchvision-layout file when given (its head ignored)."""
    try:
        make = TRUNKS[name]
    except KeyError:
        raise ValueError(f"unknown backbone {name!r}; known backbones: {', '.join(sorted(TRUNKS))}") from None
    trunk, channels = make()
    if weights_path is not None:
        load_state_dict_file(trunk, weights_path, ignore_prefixes=HEAD_PREFIXES)
    return trunk, channels
