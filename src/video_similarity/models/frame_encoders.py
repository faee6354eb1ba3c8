"""Frame encoders of the retrieval seeds: ResNet-50 average pool, R-MAC and L3-iMAC (spec section 7).

FIVR / CC_WEB_VIDEO baselines describe each sampled frame with an ImageNet
ResNet-50: either the global average pool of its last stage, or the
ViSiL / TCA regional descriptors built from all four stages (R-MAC: a 3x3 grid
of max-pooled regions per stage; iMAC: one global max per stage), optionally
PCA-whitened. All of them follow the encoder contract of the clip encoders:
``forward`` takes RGB floats in [0, 1] of shape (B, 3, H, W), normalises with
the ImageNet mean/std itself and returns unit-norm rows (B, dim).

The ResNet-50 layers are direct children of every encoder under their
torchvision names (``conv1`` ... ``layer4``), so a torchvision checkpoint such
as ``resnet50-0676ba61.pth`` loads without renaming (its ``fc.*`` ignored).
The whitening is *not* in the state dict (its buffers are non-persistent): it
is fitted on this project's data and lives in its own ``.npz`` file
(:meth:`PCAWhitening.save`), so the backbone weights stay the published file.
"""

from __future__ import annotations

import io
import math
from functools import lru_cache, partial
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import torchvision.models as tvm
from torch import nn

from video_similarity.atomic import atomic_write
from video_similarity.models.file_encoders import IMAGENET_MEAN, IMAGENET_STD
from video_similarity.models.weights import load_state_dict_file

# Key prefixes of the torchvision classifier head, absent from the encoders.
RESNET_HEAD_PREFIXES: tuple[str, ...] = ("fc.",)

_RESNET_LAYERS = ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4")
STAGE_CHANNELS: tuple[int, ...] = (256, 512, 1024, 2048)
REGIONAL_DIM = sum(STAGE_CHANNELS)  # 3840


def _l2(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    return F.normalize(x, p=2.0, dim=dim, eps=1e-12)


class _ResNet50Stages(nn.Module):
    """torchvision ResNet-50 minus avgpool/fc; ``stages`` gives the four stage outputs."""

    kind = "frames"

    def __init__(self, input_size: int):
        super().__init__()
        if input_size < 32:
            raise ValueError(f"input_size must be at least 32 px, got {input_size}")
        self.input_size = int(input_size)
        net = tvm.resnet50(weights=None)
        for name in _RESNET_LAYERS:
            setattr(self, name, getattr(net, name))
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def stages(self, images: torch.Tensor) -> list[torch.Tensor]:
        """Images (B, 3, H, W) in [0, 1] -> outputs of layer1..layer4 (256/512/1024/2048 channels)."""
        if images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f"expected frames (B, 3, H, W), got shape {tuple(images.shape)}")
        x = (images - self.mean) / self.std
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        out = []
        for layer in (self.layer1, self.layer2, self.layer3, self.layer4):
            x = layer(x)
            out.append(x)
        return out


class ResNet50AvgPool(_ResNet50Stages):
    """Frames -> global average pool of ResNet-50's last stage, L2 (B, 2048)."""

    dim = 2048

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return _l2(self.stages(images)[-1].mean(dim=(-2, -1)))


@lru_cache(maxsize=None)
def rmac_region_layout(stage_size: int) -> tuple[int, int]:
    """(kernel, stride) of the max-pool giving a 3x3 grid of overlapping regions on a stage.

    Rule: the largest kernel ``k`` whose stride ``ceil(k / 2)`` places exactly 3
    windows, i.e. ``floor((s - k) / ceil(k / 2)) + 1 == 3`` (such a k is always
    <= s / 2). At 224 px input (stages 56/28/14/7) this gives the spec's kernels
    28/14/6/3 with strides 14/7/3/2. Windows start at 0, so when they do not
    reach the end (14 with k=6) the last rows/columns are left out, as in the
    spec. Stage sizes 1, 2, 5, 6 and 10 have no such kernel: ValueError. For a
    square ResNet-50 input that means 128, 224, 256 or 288 px work, while 64,
    96, 160, 192 and 320 px do not (a stage of side 2, 6, 5, 6 or 10).
    """
    s = int(stage_size)
    for k in range(s, 0, -1):
        if (s - k) // math.ceil(k / 2) + 1 == 3:
            return k, math.ceil(k / 2)
    raise ValueError(
        f"a {s}x{s} feature map has no 3x3 grid of half-overlapping regions "
        "(stride ceil(k/2)); use another input size (e.g. 128, 224 or 256 px)"
    )


def _resnet_stage_sizes(input_size: int) -> list[int]:
    """Side of layer1..layer4 outputs for a square input (every stride-2 step is a ceil)."""
    size = math.ceil(math.ceil(input_size / 2) / 2)  # conv1, maxpool
    sizes = [size]
    for _ in range(3):
        size = math.ceil(size / 2)
        sizes.append(size)
    return sizes


class PCAWhitening(nn.Module):
    """y = (x - mean) @ projection, projection = components.T / sqrt(explained_variance + eps).

    Buffers: ``mean`` (D,), ``projection`` (D, d). They are non-persistent (not in
    the encoder's state dict): save and load them with :meth:`save` / :meth:`load`.
    """

    def __init__(self, mean: torch.Tensor | np.ndarray, projection: torch.Tensor | np.ndarray):
        super().__init__()
        mean = torch.as_tensor(np.asarray(mean), dtype=torch.float32)
        projection = torch.as_tensor(np.asarray(projection), dtype=torch.float32)
        if mean.dim() != 1 or projection.dim() != 2 or projection.shape[0] != mean.shape[0]:
            raise ValueError(
                f"whitening needs mean (D,) and projection (D, d); got {tuple(mean.shape)} "
                f"and {tuple(projection.shape)}"
            )
        self.register_buffer("mean", mean, persistent=False)
        self.register_buffer("projection", projection, persistent=False)

    @property
    def input_dim(self) -> int:
        return int(self.projection.shape[0])

    @property
    def dim(self) -> int:
        return int(self.projection.shape[1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.input_dim:
            raise ValueError(f"whitening expects {self.input_dim}-d vectors, got {x.shape[-1]}-d")
        return (x - self.mean) @ self.projection

    def save(self, path: str | Path) -> Path:
        """Write ``mean`` and ``projection`` to an ``.npz`` file, atomically."""
        buffer = io.BytesIO()
        np.savez(buffer, mean=self.mean.cpu().numpy(), projection=self.projection.cpu().numpy())
        return atomic_write(path, lambda fh: fh.write(buffer.getvalue()))

    @classmethod
    def load(cls, path: str | Path) -> PCAWhitening:
        """Read a file written by :meth:`save`."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"whitening file not found: {path}")
        try:
            with np.load(path, allow_pickle=False) as data:
                return cls(data["mean"], data["projection"])
        except (KeyError, ValueError, OSError) as err:
            raise ValueError(f"{path}: not a whitening file ({err})") from err

    def extra_repr(self) -> str:
        return f"{self.input_dim} -> {self.dim}"


def fit_whitening(vectors: np.ndarray, dims: int | None = None, eps: float = 1e-9) -> PCAWhitening:
    """Fit PCA-whitening on rows of ``vectors`` (N, D), keeping ``dims`` components (None: all).

    ``dims`` is capped at ``min(N - 1, D)``: centred data has rank at most
    N - 1, and a zero-variance component would only amplify noise.
    """
    from sklearn.decomposition import PCA

    vectors = np.asarray(vectors)
    if vectors.dtype not in (np.float32, np.float64):
        vectors = vectors.astype(np.float32)  # float32 input stays float32: R-MAC sets are large
    if vectors.ndim != 2 or vectors.shape[0] < 2:
        raise ValueError(f"whitening needs at least 2 vectors (N, D), got shape {vectors.shape}")
    if dims is not None and dims <= 0:
        raise ValueError(f"dims must be positive, got {dims}")
    cap = min(vectors.shape[0] - 1, vectors.shape[1])
    n_components = cap if dims is None else min(int(dims), cap)
    pca = PCA(n_components=n_components, random_state=0).fit(vectors)
    projection = pca.components_.T / np.sqrt(pca.explained_variance_ + eps)
    return PCAWhitening(pca.mean_.astype(np.float32), projection.astype(np.float32))


def _as_whitening(whitening: PCAWhitening | str | Path | None) -> PCAWhitening | None:
    if whitening is None or isinstance(whitening, PCAWhitening):
        return whitening
    return PCAWhitening.load(whitening)


class RegionalMAC(_ResNet50Stages):
    """R-MAC (``mode="rmac"``) or L3-iMAC (``mode="imac"``) over the four ResNet-50 stages.

    rmac: per stage, max-pool to a 3x3 grid (:func:`rmac_region_layout`) -> 9
    region vectors, L2 within the stage, concatenate stages (B, 9, 3840), L2;
    then optional whitening per region and L2; the frame vector is the mean of
    the 9 regions, L2. imac: one global max per stage, L2 per stage, concat
    (B, 3840), L2, optional whitening, L2.
    """

    def __init__(
        self,
        mode: str = "rmac",
        whitening: PCAWhitening | str | Path | None = None,
        input_size: int = 224,
    ):
        # Checked before building ResNet-50: fail at build time, and fast.
        if mode not in ("rmac", "imac"):
            raise ValueError(f"mode must be 'rmac' or 'imac', got {mode!r}")
        if mode == "rmac":
            for size in _resnet_stage_sizes(int(input_size)):
                rmac_region_layout(size)
        whitening = _as_whitening(whitening)
        if whitening is not None and whitening.input_dim != REGIONAL_DIM:
            raise ValueError(
                f"whitening expects {whitening.input_dim}-d input, R-MAC/iMAC vectors are "
                f"{REGIONAL_DIM}-d"
            )
        super().__init__(input_size)
        self.mode = mode
        self.whitening = whitening

    @property
    def dim(self) -> int:
        return REGIONAL_DIM if self.whitening is None else self.whitening.dim

    def regions(self, images: torch.Tensor) -> torch.Tensor:
        """Unit region vectors before whitening: (B, 9, 3840) for rmac, (B, 1, 3840) for imac."""
        per_stage = []
        for fmap in self.stages(images):
            if self.mode == "rmac":
                kernel, stride = rmac_region_layout(fmap.shape[-1])
                if rmac_region_layout(fmap.shape[-2]) != (kernel, stride):
                    raise ValueError(f"R-MAC needs square frames, got stage map {tuple(fmap.shape[-2:])}")
                pooled = F.max_pool2d(fmap, kernel_size=kernel, stride=stride)  # (B, C, 3, 3)
                vectors = pooled.flatten(2).transpose(1, 2)  # (B, 9, C), row-major regions
            else:
                vectors = fmap.amax(dim=(-2, -1)).unsqueeze(1)  # (B, 1, C)
            per_stage.append(_l2(vectors))
        return _l2(torch.cat(per_stage, dim=-1))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        vectors = self.regions(images)
        if self.whitening is not None:
            vectors = _l2(self.whitening(vectors))
        return _l2(vectors.mean(dim=1))


def _finish(model: nn.Module, weights_path: str | Path | None) -> nn.Module:
    if weights_path is not None:
        load_state_dict_file(model, weights_path, ignore_prefixes=RESNET_HEAD_PREFIXES)
    return model.eval()


def resnet50_avgpool(weights_path: str | Path | None = None, input_size: int = 224) -> ResNet50AvgPool:
    """ResNet-50 average-pool encoder (2048-d); ``weights_path``: torchvision-layout checkpoint."""
    return _finish(ResNet50AvgPool(input_size), weights_path)


def regional_mac(
    mode: str,
    weights_path: str | Path | None = None,
    whitening: PCAWhitening | str | Path | None = None,
    input_size: int = 224,
) -> RegionalMAC:
    """R-MAC (``mode="rmac"``) or L3-iMAC (``"imac"``) encoder (3840-d, or the whitening's dims);
    ``whitening``: module or ``.npz`` path. The registry binds ``mode``."""
    return _finish(RegionalMAC(mode, whitening, input_size), weights_path)


resnet50_rmac = partial(regional_mac, "rmac")
resnet50_imac = partial(regional_mac, "imac")
