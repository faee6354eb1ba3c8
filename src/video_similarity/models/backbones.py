"""Backbone registry: one builder per network, weights loaded separately from local files.

Modelled on torchvision's builders (``resnet50(weights=...)``) but split in two
steps because training machines here have no network: a builder only
constructs the architecture (``weights=None``, random init), and
:func:`load_backbone_weights` fills it from a state-dict file that was copied
in beforehand. Nothing in this module downloads.

A builder returns ``(trunk, channels)``: ``trunk`` maps images (B, 3, H, W) to
the last feature map (B, channels, h, w), i.e. the classifier minus its global
pooling and head. The trunk is an ``nn.Sequential`` whose children keep their
torchvision names (``conv1``, ``layer4``, ``features``...), so its state-dict
keys are exactly the classifier's minus the head and torchvision checkpoints
load without renaming.

Adding a backbone::

    @register("resnet152")
    def resnet152() -> tuple[nn.Module, int]:
        return _keep(tvm.resnet152(weights=None), _RESNET_TRUNK), 2048
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping
from pathlib import Path

import torch
import torchvision.models as tvm
from torch import nn

Builder = Callable[[], tuple[nn.Module, int]]

BACKBONES: dict[str, Builder] = {}

# Key prefixes of classification heads: present in torchvision checkpoints but
# not in a trunk, so they are dropped instead of reported as unexpected.
HEAD_PREFIXES: tuple[str, ...] = ("fc.", "classifier.", "head.", "heads.")


class BackboneWeightsError(ValueError):
    """A weights file that cannot be read or does not fit the backbone."""


def register(name: str) -> Callable[[Builder], Builder]:
    """Decorator adding a builder to :data:`BACKBONES` under ``name``."""

    def add(builder: Builder) -> Builder:
        if name in BACKBONES:
            raise ValueError(f"backbone {name!r} is already registered")
        BACKBONES[name] = builder
        return builder

    return add


def _keep(model: nn.Module, names: list[str]) -> nn.Sequential:
    """The named children of ``model``, in order, under their original names."""
    return nn.Sequential(OrderedDict((name, getattr(model, name)) for name in names))


_RESNET_TRUNK = ["conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4"]


@register("resnet18")
def resnet18() -> tuple[nn.Module, int]:
    return _keep(tvm.resnet18(weights=None), _RESNET_TRUNK), 512


@register("resnet34")
def resnet34() -> tuple[nn.Module, int]:
    return _keep(tvm.resnet34(weights=None), _RESNET_TRUNK), 512


@register("resnet50")
def resnet50() -> tuple[nn.Module, int]:
    return _keep(tvm.resnet50(weights=None), _RESNET_TRUNK), 2048


@register("efficientnet_b0")
def efficientnet_b0() -> tuple[nn.Module, int]:
    return _keep(tvm.efficientnet_b0(weights=None), ["features"]), 1280


@register("mobilenet_v3_small")
def mobilenet_v3_small() -> tuple[nn.Module, int]:
    return _keep(tvm.mobilenet_v3_small(weights=None), ["features"]), 576


@register("mobilenet_v3_large")
def mobilenet_v3_large() -> tuple[nn.Module, int]:
    return _keep(tvm.mobilenet_v3_large(weights=None), ["features"]), 960


def build_backbone(name: str, weights_path: str | Path | None = None) -> tuple[nn.Module, int]:
    """Build the registered backbone ``name``; load ``weights_path`` into it when given."""
    try:
        builder = BACKBONES[name]
    except KeyError:
        known = ", ".join(sorted(BACKBONES))
        raise ValueError(f"unknown backbone {name!r}; known backbones: {known}") from None
    trunk, channels = builder()
    if weights_path is not None:
        load_backbone_weights(trunk, weights_path)
    return trunk, channels


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise FileNotFoundError(f"backbone weights file not found: {path}")
    try:
        # weights_only: a weights file is data; never run pickled code from it.
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several types for foreign files
        raise BackboneWeightsError(
            f"{path}: not a readable PyTorch state-dict file ({type(err).__name__}: {err})"
        ) from err
    if isinstance(obj, Mapping) and isinstance(obj.get("state_dict"), Mapping):
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()
    ):
        raise BackboneWeightsError(
            f"{path}: expected a state dict (name -> tensor), or a dict with a 'state_dict' "
            f"entry, got {type(obj).__name__}"
        )
    # DataParallel / DistributedDataParallel checkpoints prefix every key.
    if obj and all(k.startswith("module.") for k in obj):
        obj = {k[len("module."):]: v for k, v in obj.items()}
    return dict(obj)


def _is_head(key: str) -> bool:
    return key.startswith(HEAD_PREFIXES)


def load_backbone_weights(model_or_trunk: nn.Module, path: str | Path) -> nn.Module:
    """Load a local torchvision-style state dict into a trunk (or a model holding ``.trunk``).

    Accepts ``torch.save(model.state_dict())`` of the full torchvision
    classifier, a dict with a ``"state_dict"`` entry, and ``module.``-prefixed
    keys. Head keys (``fc.*``, ``classifier.*``) are ignored on both sides.
    Every other key must match in name and shape, otherwise
    :class:`BackboneWeightsError` names the file and the missing/unexpected
    counts: a silently half-loaded backbone would train from noise.
    Returns the module the weights went into.
    """
    path = Path(path)
    target = getattr(model_or_trunk, "trunk", None)
    if not isinstance(target, nn.Module):
        target = model_or_trunk
    state = {k: v for k, v in _read_state_dict(path).items() if not _is_head(k)}
    expected = {k: v for k, v in target.state_dict().items() if not _is_head(k)}

    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    mismatched = sorted(
        k for k in set(state) & set(expected) if tuple(state[k].shape) != tuple(expected[k].shape)
    )
    if missing or unexpected or mismatched:
        def sample(keys: list[str]) -> str:
            return ", ".join(keys[:5]) + (", ..." if len(keys) > 5 else "")

        counts = (
            f"{len(missing)} missing, {len(unexpected)} unexpected, "
            f"{len(mismatched)} shape mismatches"
        )
        lines = [f"{path}: weights do not fit {type(target).__name__} ({counts})"]
        if missing:
            lines.append(f"  missing: {sample(missing)}")
        if unexpected:
            lines.append(f"  unexpected: {sample(unexpected)}")
        if mismatched:
            lines.append(
                "  shape mismatch: "
                + sample(
                    [f"{k} {tuple(state[k].shape)} vs {tuple(expected[k].shape)}" for k in mismatched]
                )
            )
        raise BackboneWeightsError("\n".join(lines))
    target.load_state_dict(state, strict=False)
    return target
