"""The one checkpoint format of every model this project trains, and TorchScript export.

A checkpoint holds what rebuilds the model without its training code (``kind``
names the constructor, ``config`` its keyword arguments), the weights, and
what resumes training (optimiser state, completed epochs)::

    {"format": 3, "kind": "descriptor" | "video_transformer" | ..., "config": {...},
     "state_dict": {...}, "optimizer": {...} | None, "epoch": n, "extra": {...}}

It loads with ``weights_only=True`` (no pickled code runs), so ``extra`` holds
plain values. Files of older formats are refused with "retrain it": format 1
(descriptor models before this layout), and the video transformer's formats 1
and 2 (before the context gate, and before this layout).

TorchScript is what the rank-1 pipeline ships to inference (its
``torch2scripts.py``): the exported file runs without this package's code, and
the registry's ``torchscript`` encoder loads it like any other file.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from video_similarity.atomic import atomic_write

CHECKPOINT_FORMAT = 3


class CheckpointError(ValueError):
    """A file that is not a checkpoint of this format; the message names it and says what to do."""


@dataclass
class Checkpoint:
    kind: str
    config: dict[str, Any]
    state_dict: dict[str, torch.Tensor]
    optimizer: dict | None = None
    epoch: int = 0  # completed epochs: training resumes at this epoch
    extra: dict[str, Any] = field(default_factory=dict)


def unwrap(model: nn.Module) -> nn.Module:
    """The bare model inside DataParallel / DistributedDataParallel wrappers."""
    if isinstance(model, (nn.DataParallel, nn.parallel.DistributedDataParallel)):
        return model.module
    return model


def save_checkpoint(
    path: str | Path,
    kind: str,
    model: nn.Module,
    config: dict[str, Any] | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    epoch: int = 0,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write one checkpoint atomically; ``config`` defaults to ``model.config`` (constructor kwargs)."""
    model = unwrap(model)
    if config is None:
        config = getattr(model, "config", None)
        if config is None:
            raise ValueError("config is required for a model without a .config attribute")
    state = {
        "format": CHECKPOINT_FORMAT,
        "kind": kind,
        "config": dict(config),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "epoch": int(epoch),
        "extra": dict(extra or {}),
    }
    return atomic_write(path, lambda fh: torch.save(state, fh))


def read_checkpoint(path: str | Path, kind: str | None = None, map_location: str | torch.device = "cpu") -> Checkpoint:
    """Read a checkpoint (of ``kind`` when given); older formats and foreign files raise CheckpointError."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises several types for foreign files
        raise CheckpointError(f"{path}: not a checkpoint this project wrote ({type(err).__name__}: {err})") from err
    if not isinstance(state, dict) or "format" not in state:
        raise CheckpointError(f"{path}: not a checkpoint this project wrote")
    found = state.get("kind", "descriptor" if "model" in state else "unknown")
    if state["format"] != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"{path}: {found} checkpoint format {state['format']}, this version reads format {CHECKPOINT_FORMAT}: retrain it"
        )
    if kind is not None and found != kind:
        raise CheckpointError(f"{path}: a {found} checkpoint, expected {kind}")
    return Checkpoint(found, dict(state["config"]), state["state_dict"], state.get("optimizer"), int(state["epoch"]), dict(state.get("extra") or {}))


@contextmanager
def _quiet_jit():
    """PyTorch marks TorchScript deprecated; the project uses it on purpose (rank-1 exports)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning, module=r"torch\.jit")
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.jit")
        yield


def export_torchscript(model: nn.Module, path: str | Path, method: str = "script", example: torch.Tensor | None = None) -> Path:
    """Save ``model`` (in eval mode) as a TorchScript file, atomically.

    ``method="script"`` keeps input-size independence; ``"trace"`` needs
    ``example`` (default a (1, 3, 224, 224) batch) and records one path.
    """
    model = unwrap(model)
    was_training = model.training
    model.eval()
    try:
        with _quiet_jit():
            compiled = _compile(model, method, example)
            return atomic_write(path, lambda fh: torch.jit.save(compiled, fh))
    finally:
        model.train(was_training)


def _compile(model: nn.Module, method: str, example: torch.Tensor | None):
    if method == "script":
        return torch.jit.script(model)
    if method == "trace":
        if example is None:
            example = torch.rand(1, 3, 224, 224, device=next(model.parameters()).device)
        with torch.no_grad():
            return torch.jit.trace(model, example)
    raise ValueError(f"method must be 'script' or 'trace', got {method!r}")


def load_torchscript(path: str | Path, map_location: str | torch.device = "cpu") -> nn.Module:
    """Load a TorchScript file, in eval mode; a missing or foreign file names itself."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"TorchScript file not found: {path}")
    try:
        with _quiet_jit():
            module = torch.jit.load(str(path), map_location=map_location)
    except RuntimeError as err:
        raise ValueError(f"{path}: not a TorchScript file ({err})") from err
    return module.eval()
