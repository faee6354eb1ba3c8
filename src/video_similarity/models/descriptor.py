"""The frame descriptor network and its persistence (TorchScript export, training checkpoints).

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

import warnings
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from video_similarity.atomic import atomic_write
from video_similarity.models.backbones import build_backbone
from video_similarity.models.pooling import GeM

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

CHECKPOINT_FORMAT = 1


class DescriptorModel(nn.Module):
    """Images (B, 3, H, W) in [0, 1] -> unit descriptors (B, dim).

    ``weights_path`` is a local torchvision state-dict file for the backbone
    (see :func:`~video_similarity.models.backbones.load_backbone_weights`);
    without it the backbone starts from random initialisation.
    """

    def __init__(
        self,
        backbone: str,
        dim: int = 256,
        weights_path: str | Path | None = None,
        gem_p: float = 3.0,
    ):
        super().__init__()
        if dim <= 0:
            raise ValueError(f"descriptor dim must be positive, got {dim}")
        self.backbone_name = backbone
        self.dim = int(dim)
        self.trunk, self.channels = build_backbone(backbone, weights_path)
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


def _unwrap(model: nn.Module) -> nn.Module:
    """The bare model inside DataParallel / DistributedDataParallel wrappers."""
    if isinstance(model, (nn.DataParallel, nn.parallel.DistributedDataParallel)):
        return model.module
    return model


def export_torchscript(
    model: nn.Module,
    path: str | Path,
    method: str = "script",
    example: torch.Tensor | None = None,
) -> Path:
    """Save ``model`` (in eval mode) as a TorchScript file, atomically.

    TorchScript is what the rank-1 pipeline ships to inference (its
    ``torch2scripts.py``): the file runs without this package's code.
    ``method="script"`` keeps input-size independence; ``"trace"`` needs
    ``example`` (default a (1, 3, 224, 224) batch) and records one path.
    PyTorch marks TorchScript deprecated; that warning is silenced here on
    purpose.
    """
    model = _unwrap(model)
    was_training = model.training
    model.eval()
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=FutureWarning, module=r"torch\.jit")
            warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.jit")
            if method == "script":
                compiled = torch.jit.script(model)
            elif method == "trace":
                if example is None:
                    param = next(model.parameters())
                    example = torch.rand(1, 3, 224, 224, device=param.device)
                with torch.no_grad():
                    compiled = torch.jit.trace(model, example)
            else:
                raise ValueError(f"method must be 'script' or 'trace', got {method!r}")
            return atomic_write(path, lambda fh: torch.jit.save(compiled, fh))
    finally:
        model.train(was_training)


def load_torchscript(path: str | Path, map_location: str | torch.device = "cpu") -> nn.Module:
    """Load a TorchScript file written by :func:`export_torchscript`, in eval mode."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"TorchScript file not found: {path}")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning, module=r"torch\.jit")
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.jit")
        module = torch.jit.load(str(path), map_location=map_location)
    return module.eval()


def save_checkpoint(
    path: str | Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None,
    epoch: int,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Save everything needed to resume training, atomically.

    ``epoch`` is the number of completed epochs (resume at ``epoch``).
    ``extra`` holds anything else the loop needs (scheduler/scaler state, RNG
    states, config); DDP wrappers are unwrapped so single- and multi-GPU runs
    share checkpoints.
    """
    state = {
        "format": CHECKPOINT_FORMAT,
        "model": _unwrap(model).state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "epoch": int(epoch),
        "extra": dict(extra or {}),
    }
    return atomic_write(path, lambda fh: torch.save(state, fh))


def load_checkpoint(
    path: str | Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
) -> dict[str, Any]:
    """Restore ``model`` (strictly) and ``optimizer`` from ``path``; return ``{"epoch", "extra"}``.

    Loads with ``weights_only=False`` so ``extra`` may hold arbitrary Python
    objects: only load checkpoints this project wrote.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    state = torch.load(path, map_location="cpu", weights_only=False)
    if not isinstance(state, dict) or "model" not in state or "epoch" not in state:
        raise ValueError(f"{path}: not a checkpoint written by save_checkpoint")
    _unwrap(model).load_state_dict(state["model"])
    if optimizer is not None:
        if state.get("optimizer") is None:
            raise ValueError(f"{path}: checkpoint has no optimizer state to restore")
        optimizer.load_state_dict(state["optimizer"])
    return {"epoch": state["epoch"], "extra": state.get("extra", {})}
