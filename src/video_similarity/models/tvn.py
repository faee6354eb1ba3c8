"""Tiny Video Networks (Piergiovanni, Angelova, Ryoo, "Tiny Video Networks", arXiv 1910.06961).

A TVN is a stack of searched blocks; :func:`tvn1` builds TVN-1, the network
released as ``TVN1`` in google-research ``tiny_video_nets/found_tvns.py``, with
the block of ``tiny_video_net.py`` / ``layers.py`` rewritten in plain PyTorch.
The released code runs 2D layers on ``(B*T, H, W, C)`` tensors and reshapes
for the temporal ones; here every layer is a ``Conv3d`` / pooling on
``(B, C, T, H, W)`` with a ``(1, k, k)`` or ``(k, 1, 1)`` kernel, the same
arithmetic without the reshapes.

Input: clips (B, 3, T, H, W), RGB floats in [0, 1]; normalisation and frame
sampling (TVN-1 was released for 2 frames, ``frame_stride`` 4, at 224 px) are
the caller's. Output: logits (B, num_classes); :meth:`TinyVideoNet.features`
gives the pooled (B, 2048) features the classifier reads, for linear probes.
Any T >= 1 and any H, W >= 1 run: all convolutions and poolings use
TensorFlow's ``SAME`` padding (output ``ceil(n / stride)``), so no size
shrinks below 1.

One block unit (:class:`TinyBlock`), in the released order:

1. spatial layer: ``std`` = 1x1 conv to ``filters`` + BN + ReLU, then kxk conv
   (stride s) + BN + ReLU; ``depth`` = the same 1x1 conv, then a kxk depthwise
   conv + BN + ReLU; ``maxpool`` / ``avgpool`` = kxk pooling, channels kept;
   kernel 1 = nothing (the released ``spatial_conv`` returns its input);
2. temporal layer: ``1d`` = (k,1,1) conv to ``filters`` + BN + ReLU, or
   (k,1,1) max / average pooling; kernel 1 = nothing;
3. 1x1 expansion to ``filters * expand`` channels + BN, no ReLU;
4. squeeze-excitation (if ``squeeze > 0``): mean over T, H, W -> linear to
   ``max(int(C * squeeze), 8)`` -> ReLU -> linear to C -> sigmoid -> scale;
5. context gating (if set): mean over T, H, W -> linear C -> C -> sigmoid -> scale;
6. residual (if ``skip``): the unit's input through a 1x1 conv (stride s) + BN,
   added; then ReLU.

A block repeats its unit ``repeats`` times; repeats after the first use
stride 1 (spatial and temporal), and their temporal layer alternates, off
first (off, on, off, ...). The head is a global average pool over T, H, W,
dropout (training only) and a linear layer (weights N(0, 0.01), bias 0).

Where this follows the released code over the issue's wording, or interprets:

* Blocks 3 and 4 (``depth`` 5x5 and ``std`` 3x3) also start with the 1x1 conv
  to ``filters`` that the issue names only for block 1.
* Block 2's spatial max pool keeps block 1's 256 channels, so its expansion
  is 256 -> 512; its temporal layer (``1d``, kernel 1) and those of blocks 3
  and 4 (``avgpool``, kernel 1) are identities and hold no weights.
* The residual is always a 1x1 conv + BN projection wherever ``skip`` is set
  (block 3, both units, even the second one's 512 -> 512 stride-1 case); there
  is no identity shortcut, and blocks without ``skip`` (1, 2, 4) have no
  residual even where channels change. As released, the residual is added
  only when the unit kept the number of frames.
* SE and context gating pool over the whole clip (T, H, W) and use biased
  linear maps (1x1 convs with bias in the released code); SE comes before
  the gate, both after the expansion BN and before the residual sum.
* The temporal layer runs only while the clip has more than one frame
  (released rule ``num_frames > 1``), so 2-frame TVN-1 input has T = 1 after
  block 1 and 8-frame input T = 4; for poolings, skipping at T = 1 equals
  applying them with SAME padding. A ``1d`` conv that changes the channel
  count (after a pooling spatial layer) runs even at T = 1, where only its
  centre tap sees data: the released graph would have been built without it,
  which a fixed PyTorch module cannot do.
* SAME padding is TensorFlow's: asymmetric (the extra row after), max pooling
  pads with -inf and average pooling leaves padding out of the mean.
* Initialisation as released: convolutions and SE / gate layers from a
  truncated normal with std sqrt(2.6 / fan_in) cut at 2 std (TF
  ``variance_scaling_initializer(2.0, 'FAN_IN', uniform=False)``), biases 0,
  BN scale 1 and shift 0, BN momentum 0.1 (TF decay 0.9), eps 1e-5. The
  depthwise conv uses its own fan-in (k * k); the released code's C * k * k
  only rescales a layer a BN follows.
* ``non_local`` (0 in TVN-1), ``current_size`` (search bookkeeping) and the
  multi-stream / inverted-bottleneck / hard-swish options of the TVN-Mobile
  configs are not implemented; ``expand`` must be >= 1.

Parameter count: TVN-1 has 25,720,110 parameters before the classifier; the
squeeze-excitation (bottleneck 1487) and gate layers of block 4 hold 20.6M of
them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

SPATIAL_TYPES: tuple[str, ...] = ("std", "depth", "maxpool", "avgpool")
TEMPORAL_TYPES: tuple[str, ...] = ("1d", "maxpool", "avgpool")

#: The ``kind`` for :func:`~video_similarity.models.checkpoint.save_checkpoint` (config: ``model.config``).
CHECKPOINT_KIND = "tiny_video_net"


@dataclass(frozen=True)
class BlockSpec:
    """One searched block: its unit's layers and how often the unit repeats (released field names)."""

    filters: int
    expand: int
    repeats: int
    spatial_type: str
    spatial_kernel: int
    spatial_stride: int
    temporal_type: str
    temporal_kernel: int
    temporal_stride: int
    squeeze: float = 0.0  # SE bottleneck ratio; 0 = no SE
    context_gate: bool = False
    skip: bool = False

    def __post_init__(self) -> None:
        if self.spatial_type not in SPATIAL_TYPES:
            raise ValueError(f"spatial_type must be one of {SPATIAL_TYPES}, got {self.spatial_type!r}")
        if self.temporal_type not in TEMPORAL_TYPES:
            raise ValueError(f"temporal_type must be one of {TEMPORAL_TYPES}, got {self.temporal_type!r}")
        sizes = (self.filters, self.expand, self.repeats, self.spatial_kernel, self.spatial_stride,
                 self.temporal_kernel, self.temporal_stride)
        if min(sizes) < 1:
            raise ValueError(f"filters, expand, repeats, kernels and strides must be >= 1: {self}")
        if not 0.0 <= self.squeeze <= 1.0:
            raise ValueError(f"squeeze must be in [0, 1], got {self.squeeze}")

    @property
    def expanded(self) -> int:
        """Channels a unit of this block outputs."""
        return self.filters * self.expand


#: TVN-1 as released (``found_tvns.TVN1``: 2 frames, frame stride 4, 224 px).
TVN1_BLOCKS: tuple[BlockSpec, ...] = (
    BlockSpec(filters=64, expand=4, repeats=2, spatial_type="std", spatial_kernel=4, spatial_stride=2,
              temporal_type="maxpool", temporal_kernel=2, temporal_stride=2, context_gate=True),
    BlockSpec(filters=128, expand=4, repeats=1, spatial_type="maxpool", spatial_kernel=3, spatial_stride=2,
              temporal_type="1d", temporal_kernel=1, temporal_stride=1, squeeze=0.9067600752736579),
    BlockSpec(filters=128, expand=4, repeats=2, spatial_type="depth", spatial_kernel=5, spatial_stride=3,
              temporal_type="avgpool", temporal_kernel=1, temporal_stride=1, context_gate=True, skip=True),
    BlockSpec(filters=256, expand=8, repeats=2, spatial_type="std", spatial_kernel=3, spatial_stride=2,
              temporal_type="avgpool", temporal_kernel=1, temporal_stride=1, squeeze=0.7265534208526172,
              context_gate=True),
)


def _same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow SAME padding of one dimension: (before, after), the odd one after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _pad_3d(x: torch.Tensor, kernel: list[int], stride: list[int]) -> list[int]:
    """F.pad's argument (W, H, T order) for SAME padding of a (B, C, T, H, W) tensor."""
    pads: list[int] = []
    for dim in [4, 3, 2]:
        before, after = _same_padding(x.shape[dim], kernel[dim - 2], stride[dim - 2])
        pads += [before, after]
    return pads


def _variance_scaling_(weight: torch.Tensor, fan_in: int) -> None:
    """TF ``variance_scaling_initializer(factor=2.0, mode='FAN_IN', uniform=False)``."""
    std = math.sqrt(1.3 * 2.0 / fan_in)
    nn.init.trunc_normal_(weight, std=std, a=-2.0 * std, b=2.0 * std)


class SameConv3d(nn.Conv3d):
    """Conv3d with TensorFlow SAME padding computed per input (so every size works), no bias."""

    def __init__(self, in_channels: int, out_channels: int, kernel: tuple[int, int, int],
                 stride: tuple[int, int, int] = (1, 1, 1), groups: int = 1):
        super().__init__(in_channels, out_channels, kernel, stride, padding=0, groups=groups, bias=False)
        _variance_scaling_(self.weight, (in_channels // groups) * math.prod(kernel))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = _pad_3d(x, list(self.kernel_size), list(self.stride))
        if max(pads) > 0:
            x = F.pad(x, pads)
        return F.conv3d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


class SamePool3d(nn.Module):
    """Max or average pooling with SAME padding: -inf pads for max, pads left out of the mean."""

    def __init__(self, mode: str, kernel: tuple[int, int, int], stride: tuple[int, int, int]):
        super().__init__()
        if mode not in ("max", "avg"):
            raise ValueError(f"mode must be 'max' or 'avg', got {mode!r}")
        self.mode = mode
        self.kernel_size: list[int] = list(kernel)
        self.stride: list[int] = list(stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = _pad_3d(x, self.kernel_size, self.stride)
        if self.mode == "max":
            return F.max_pool3d(F.pad(x, pads, value=float("-inf")), self.kernel_size, self.stride)
        summed = F.avg_pool3d(F.pad(x, pads), self.kernel_size, self.stride)
        ones = x.new_ones([1, 1, x.shape[2], x.shape[3], x.shape[4]])
        valid = F.avg_pool3d(F.pad(ones, pads), self.kernel_size, self.stride)
        return summed / valid


class ConvBN(nn.Sequential):
    """SAME conv (no bias) + BatchNorm, then ReLU unless ``relu=False``: the released ``conv2d``."""

    def __init__(self, in_channels: int, out_channels: int, kernel: tuple[int, int, int],
                 stride: tuple[int, int, int] = (1, 1, 1), groups: int = 1, relu: bool = True):
        super().__init__()
        self.conv = SameConv3d(in_channels, out_channels, kernel, stride, groups)
        self.bn = nn.BatchNorm3d(out_channels, eps=1e-5, momentum=0.1)
        if relu:
            self.relu = nn.ReLU(inplace=True)


class SqueezeExcite(nn.Module):
    """Channel scales from the clip's mean feature through a ``max(int(C * ratio), 8)`` bottleneck."""

    def __init__(self, channels: int, ratio: float):
        super().__init__()
        self.bottleneck = max(int(channels * ratio), 8)
        self.reduce = nn.Linear(channels, self.bottleneck)
        self.expand = nn.Linear(self.bottleneck, channels)
        for layer in (self.reduce, self.expand):
            _variance_scaling_(layer.weight, layer.in_features)
            nn.init.zeros_(layer.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = torch.sigmoid(self.expand(F.relu(self.reduce(x.mean(dim=(2, 3, 4))))))
        return x * scale[:, :, None, None, None]


class ContextGate(nn.Module):
    """Context gating (Xie et al. 2018): channel scales sigmoid(W mean + b) from the clip's mean feature."""

    def __init__(self, channels: int):
        super().__init__()
        self.fc = nn.Linear(channels, channels)
        _variance_scaling_(self.fc.weight, channels)
        nn.init.zeros_(self.fc.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate = torch.sigmoid(self.fc(x.mean(dim=(2, 3, 4))))
        return x * gate[:, :, None, None, None]


def _spatial_layer(spec: BlockSpec, in_channels: int, stride: int) -> tuple[nn.Module, int]:
    """The unit's spatial layer and its output channels."""
    k, s = spec.spatial_kernel, (1, stride, stride)
    if k == 1:  # released spatial_conv returns its input for kernel 1, stride included
        return nn.Identity(), in_channels
    if spec.spatial_type in ("maxpool", "avgpool"):
        return SamePool3d(spec.spatial_type[:3], (1, k, k), s), in_channels
    layer = nn.Sequential()
    layer.add_module("reduce", ConvBN(in_channels, spec.filters, (1, 1, 1)))
    groups = spec.filters if spec.spatial_type == "depth" else 1
    layer.add_module("conv", ConvBN(spec.filters, spec.filters, (1, k, k), s, groups=groups))
    return layer, spec.filters


def _temporal_layer(spec: BlockSpec, in_channels: int, stride: int) -> tuple[nn.Module | None, int]:
    """The unit's temporal layer (None for kernel 1, an identity in the released code) and its output channels."""
    k, s = spec.temporal_kernel, (stride, 1, 1)
    if k == 1:
        return None, in_channels
    if spec.temporal_type == "1d":
        return ConvBN(in_channels, spec.filters, (k, 1, 1), s), spec.filters
    return SamePool3d(spec.temporal_type[:3], (k, 1, 1), s), in_channels


class TinyBlock(nn.Module):
    """One unit of a block (see the module doc for the layer order)."""

    def __init__(self, spec: BlockSpec, in_channels: int, first: bool = True, use_temporal: bool = True):
        super().__init__()
        self.in_channels = int(in_channels)
        self.out_channels = spec.expanded
        self.use_temporal = bool(use_temporal)  # the released alternation chose a temporal layer
        # Repeats after the first run at stride 1; a kernel-1 spatial layer never strides.
        self.spatial_stride = (spec.spatial_stride if first else 1) if spec.spatial_kernel > 1 else 1
        self.temporal_stride = spec.temporal_stride if first else 1
        self.spatial, channels = _spatial_layer(spec, in_channels, self.spatial_stride)
        temporal: nn.Module | None = None
        if use_temporal:
            temporal, t_channels = _temporal_layer(spec, channels, self.temporal_stride)
        else:
            t_channels = channels
        self.temporal = temporal
        # The released graph drops the temporal layer at one frame; one that changes channels cannot go.
        self.temporal_at_one_frame = t_channels != channels
        self.expand = ConvBN(t_channels, spec.expanded, (1, 1, 1), relu=False)
        self.se = SqueezeExcite(spec.expanded, spec.squeeze) if spec.squeeze > 0 else None
        self.gate = ContextGate(spec.expanded) if spec.context_gate else None
        self.residual = (
            ConvBN(in_channels, spec.expanded, (1, 1, 1), (1, self.spatial_stride, self.spatial_stride), relu=False)
            if spec.skip else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        frames = x.shape[2]
        out = self.spatial(x)
        if self.temporal is not None and (out.shape[2] > 1 or self.temporal_at_one_frame):
            out = self.temporal(out)
        out = self.expand(out)
        if self.se is not None:
            out = self.se(out)
        if self.gate is not None:
            out = self.gate(out)
        if self.residual is not None and out.shape[2] == frames:
            out = out + self.residual(x)
        return F.relu(out)


def _block_units(spec: BlockSpec, in_channels: int) -> nn.Sequential:
    """A block's units: the first with the spec's strides, then stride 1 with temporal off, on, off, ..."""
    units = nn.Sequential()
    channels = in_channels
    for i in range(spec.repeats):
        units.add_module(str(i), TinyBlock(spec, channels, first=i == 0, use_temporal=i == 0 or i % 2 == 0))
        channels = spec.expanded
    return units


class TinyVideoNet(nn.Module):
    """Clips (B, 3, T, H, W) in [0, 1] -> logits (B, num_classes), built from one :class:`BlockSpec` per block.

    ``config`` holds the constructor's keyword arguments (blocks as plain
    dicts), so :func:`~video_similarity.models.checkpoint.save_checkpoint`
    files rebuild it with ``TinyVideoNet(**config)``. ``dim`` is the width of
    :meth:`features`. There is no encoder ``kind``: ``forward`` returns
    logits, not the registry's unit rows; an encoder wraps :meth:`features`.
    """

    def __init__(
        self,
        blocks: Sequence[BlockSpec | Mapping[str, Any]],
        num_classes: int,
        dropout: float = 0.5,
        in_channels: int = 3,
    ):
        super().__init__()
        specs = [b if isinstance(b, BlockSpec) else BlockSpec(**b) for b in blocks]
        if not specs:
            raise ValueError("a TinyVideoNet needs at least one block")
        if num_classes < 1 or in_channels < 1:
            raise ValueError(f"num_classes and in_channels must be positive, got {num_classes}, {in_channels}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.config: dict[str, Any] = {
            "blocks": [asdict(s) for s in specs],
            "num_classes": int(num_classes),
            "dropout": float(dropout),
            "in_channels": int(in_channels),
        }
        self.specs: tuple[BlockSpec, ...] = tuple(specs)
        self.in_channels = int(in_channels)
        self.blocks = nn.Sequential()
        channels = self.in_channels
        for b, spec in enumerate(specs):
            self.blocks.add_module(str(b), _block_units(spec, channels))
            channels = spec.expanded
        self.dim = channels
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(channels, num_classes)
        nn.init.normal_(self.fc.weight, std=0.01)  # released head: random_normal(stddev=.01), zero bias
        nn.init.zeros_(self.fc.bias)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Clips (B, C, T, H, W) -> the globally average-pooled last block (B, dim), before dropout."""
        if x.dim() != 5 or x.shape[1] != self.in_channels or min(x.shape[2:]) < 1:
            raise ValueError(f"expected clips (B, {self.in_channels}, T, H, W) with T, H, W >= 1, got {list(x.shape)}")
        return self.blocks(x).mean(dim=(2, 3, 4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.dropout(self.features(x)))


def tvn1(num_classes: int, dropout: float = 0.5, weights_path: str | Path | None = None) -> TinyVideoNet:
    """TVN-1 as released (2048 features); ``weights_path``: a state dict / checkpoint of this project's model.

    The file is read by the one loader, :func:`~video_similarity.models.weights.load_state_dict_file`
    (plain state dicts and :func:`~video_similarity.models.checkpoint.save_checkpoint` files),
    strictly: a file for another architecture or another ``num_classes`` raises WeightsFileError.
    The released TensorFlow checkpoints are not a layout it reads.
    """
    model = TinyVideoNet(TVN1_BLOCKS, num_classes=num_classes, dropout=dropout)
    if weights_path is not None:
        from video_similarity.models.weights import load_state_dict_file

        load_state_dict_file(model, weights_path)
    return model


class TVNEncoder(nn.Module):
    """A TinyVideoNet as a registry clip encoder: its pooled features (:meth:`TinyVideoNet.features`), L2-normalised.

    Clips come from the clip archives of the action pipelines (``clip_source``
    "archive": consecutive archive frames), ``clip_frames`` at a time, each
    frame resized to ``input_size``; inputs are the contract's [0, 1] floats,
    which is also what the network is trained on (no mean / std).
    """

    kind = "clips"
    clip_source = "archive"

    def __init__(self, net: TinyVideoNet, clip_frames: int, input_size: int):
        super().__init__()
        net.fc = nn.Identity()  # the features are the output: no head parameters that get no gradient (DDP fine-tuning)
        self.net, self.dim = net, net.dim
        self.clip_frames, self.input_size, self.frame_stride = int(clip_frames), int(input_size), 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.normalize(self.net.features(x), dim=1)


def load_tiny_video_net(path: str | Path) -> TinyVideoNet:
    """A TinyVideoNet trained here (a checkpoint of kind ``tiny_video_net``), rebuilt from its config."""
    from video_similarity.models.checkpoint import read_checkpoint

    state = read_checkpoint(path, kind=CHECKPOINT_KIND)
    net = TinyVideoNet(**state.config)
    net.load_state_dict(state.state_dict)
    return net


def tvn1_encoder(weights_path: str | Path | None = None, clip_frames: int = 8, input_size: int = 200, clip_source: str = "archive") -> TVNEncoder:
    """TVN-1 features: a checkpoint trained by the action_recognition pipeline, or random init (a control).

    ``clip_frames`` and ``input_size`` are the clip archives' sampling (the notes': 8 frames at 200 px); TVN-1
    reads the clip archives only (``clip_source`` "archive").
    """
    if clip_source != TVNEncoder.clip_source:
        raise ValueError(f"tvn1 reads clips from the clip archives (clip_source archive), not {clip_source!r}")
    net = load_tiny_video_net(weights_path) if weights_path else tvn1(num_classes=1)
    return TVNEncoder(net, clip_frames, input_size)
