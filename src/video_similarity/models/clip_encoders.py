"""Clip encoders: PyTorchVideo X3D-S/M/L and Slow-R50 (the retrieval seeds, spec section 7), torchvision R(2+1)D-18 (SEVERE).

The seeds describe a video by short clips instead of single frames: each clip
(T frames taken every ``frame_stride`` frames of the source at its native
rate) becomes one vector, the network's last-stage average-pooled feature,
L2-normalised. The networks are built with PyTorchVideo's own builders and the
exact hyper-parameters of ``pytorchvideo.models.hub`` (x3d_s/m/l, slow_r50),
with ``pretrained=False`` semantics: weights come from a local ``.pyth`` file.

The classifier is dropped: the head keeps its pooling but its final linear
projection (``blocks.5.proj``) and activation are removed (X3D heads would
otherwise end in a softmax). The PyTorchVideo ``blocks`` list is kept as the
encoder's ``blocks`` attribute, so its state-dict keys are the published ones
(``blocks.0.conv.conv_t.weight`` ...) and a PyTorchVideo checkpoint loads with
``ignore_prefixes=CLIP_HEAD_PREFIXES``.

Input contract (shared with the frame encoders): floats in [0, 1], shape
(B, 3, T, H, W) with T = ``clip_frames`` and H = W = ``input_size``; the
Kinetics normalisation (mean 0.45, std 0.225) happens inside. The sizes are
fixed because the heads average-pool with a kernel computed from them; other
sizes raise ValueError. Builders take ``clip_frames`` / ``input_size`` /
``frame_stride`` keywords only so that tests can run tiny models; the defaults
are the published settings (:data:`PUBLISHED`). ``clip_source`` "archive"
makes an encoder read consecutive archive frames instead of decoding the
source (the action pipelines' clip archives hold the sampled clips).

R(2+1)D-18 is torchvision's ``r2plus1d_18`` (SEVERE's backbone) with its
``fc`` dropped: the 512-d average-pooled feature, Kinetics normalisation of
torchvision's video models inside; its pooling is adaptive, so any clip size
runs. Weights: torchvision's ``r2plus1d_18-91a641e6.pth`` or a SEVERE
checkpoint in that layout.
"""

from __future__ import annotations

import math
from functools import partial
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from video_similarity.models.weights import load_state_dict_file

KINETICS_MEAN = (0.45, 0.45, 0.45)
KINETICS_STD = (0.225, 0.225, 0.225)

# The classification layer the encoders drop, as named in PyTorchVideo checkpoints.
CLIP_HEAD_PREFIXES: tuple[str, ...] = ("blocks.5.proj.",)

# name -> (clip_frames, frame_stride, input_size), the published sampling of each model.
PUBLISHED: dict[str, tuple[int, int, int]] = {
    "x3d_s": (13, 6, 160),
    "x3d_m": (16, 5, 224),
    "x3d_l": (16, 5, 312),
    "slow_r50": (8, 8, 224),
}


class ClipEncoder(nn.Module):
    """Clips (B, 3, T, S, S) in [0, 1] -> unit vectors (B, dim) from a PyTorchVideo ``Net``.

    The tensor taken is what the removed classifier would have received:

    * X3D: the head's ``ProjectedPool`` output: last stage (B, 192, T, S/32,
      S/32) -> ``pre_conv`` 1x1x1 to 432 channels + BN + ReLU -> average pool
      over the whole clip -> ``post_conv`` 1x1x1 to 2048 + ReLU -> (B, 2048).
    * Slow-R50: the last residual stage (B, 2048, T, S/32, S/32) average-pooled
      over time and space -> (B, 2048).

    Dropout is inactive in eval mode; the head's ``output_pool`` then only
    flattens the 1x1x1 map. The result is L2-normalised.
    """

    kind = "clips"

    def __init__(self, net: nn.Module, clip_frames: int, frame_stride: int, input_size: int, clip_source: str = "video"):
        super().__init__()
        self.clip_source = _clip_source(clip_source)  # "video": decoded from the source at its own frame rate
        from pytorchvideo.models.head import ResNetBasicHead

        head = net.blocks[-1]
        if not isinstance(head, ResNetBasicHead) or head.proj is None:
            raise ValueError(
                f"expected a PyTorchVideo Net ending in a ResNetBasicHead, got {type(head).__name__}"
            )
        if frame_stride < 1:
            raise ValueError(f"frame_stride must be >= 1, got {frame_stride}")
        self.dim = int(head.proj.in_features)
        head.proj = None
        head.activation = None
        self.blocks = net.blocks  # keeps the published key names: blocks.N....
        self.clip_frames = int(clip_frames)
        self.frame_stride = int(frame_stride)
        self.input_size = int(input_size)
        shape = (1, 3, 1, 1, 1)
        self.register_buffer("mean", torch.tensor(KINETICS_MEAN).view(shape), persistent=False)
        self.register_buffer("std", torch.tensor(KINETICS_STD).view(shape), persistent=False)

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        expected = (3, self.clip_frames, self.input_size, self.input_size)
        if clips.dim() != 5 or tuple(clips.shape[1:]) != expected:
            raise ValueError(
                f"expected clips (B, {', '.join(map(str, expected))}), got shape {tuple(clips.shape)}"
            )
        x = (clips - self.mean) / self.std
        for block in self.blocks:
            x = block(x)
        return F.normalize(x.flatten(1), p=2.0, dim=-1)

    def extra_repr(self) -> str:
        return (
            f"clip_frames={self.clip_frames}, frame_stride={self.frame_stride}, "
            f"input_size={self.input_size}, dim={self.dim}"
        )


def _clip_source(value: str) -> str:
    if value not in ("video", "archive"):
        raise ValueError(f"clip_source must be 'video' or 'archive', got {value!r}")
    return value


def _finish(encoder: nn.Module, weights_path: str | Path | None, ignore_prefixes: tuple[str, ...] = CLIP_HEAD_PREFIXES) -> nn.Module:
    if weights_path is not None:
        load_state_dict_file(encoder, weights_path, ignore_prefixes=ignore_prefixes)
    return encoder.eval()


#: X3D variant -> PyTorchVideo hub keywords beyond the clip geometry (X3D-L is deeper).
X3D_VARIANTS: dict[str, dict] = {"x3d_s": {}, "x3d_m": {}, "x3d_l": {"depth_factor": 5.0}}


def x3d(
    variant: str,
    weights_path: str | Path | None = None,
    *,
    clip_frames: int | None = None,
    frame_stride: int | None = None,
    input_size: int | None = None,
    clip_source: str = "video",
) -> ClipEncoder:
    """X3D-S / M / L -> 2048-d at the published geometry (:data:`PUBLISHED`) unless overridden;
    weights: ``X3D_S.pyth`` ... layout. The registry binds ``variant``."""
    from pytorchvideo.models.x3d import create_x3d

    if variant not in X3D_VARIANTS:
        raise ValueError(f"unknown X3D variant {variant!r}; known: {', '.join(X3D_VARIANTS)}")
    published = PUBLISHED[variant]
    clip_frames, frame_stride, input_size = (
        published[i] if value is None else int(value) for i, value in enumerate((clip_frames, frame_stride, input_size))
    )
    if input_size < 32 or clip_frames < 1:
        raise ValueError(f"X3D needs input_size >= 32 and clip_frames >= 1, got {input_size}, {clip_frames}")
    net = create_x3d(input_clip_length=clip_frames, input_crop_size=input_size, head_activation=None, **X3D_VARIANTS[variant])
    return _finish(ClipEncoder(net, clip_frames, frame_stride, input_size, clip_source), weights_path)


x3d_s = partial(x3d, "x3d_s")
x3d_m = partial(x3d, "x3d_m")
x3d_l = partial(x3d, "x3d_l")


def slow_r50(
    weights_path: str | Path | None = None,
    *,
    clip_frames: int = 8,
    frame_stride: int = 8,
    input_size: int = 224,
    clip_source: str = "video",
) -> ClipEncoder:
    """Slow-R50 8x8 (8 frames every 8, 224 px) -> 2048-d; weights: ``SLOW_8x8_R50.pyth`` layout."""
    from pytorchvideo.models.resnet import create_resnet

    if input_size < 32 or clip_frames < 1:
        raise ValueError(
            f"Slow-R50 needs input_size >= 32 and clip_frames >= 1, got {input_size}, {clip_frames}"
        )
    side = math.ceil(input_size / 32)  # every stride-2 layer rounds up
    net = create_resnet(
        model_depth=50,
        stem_conv_kernel_size=(1, 7, 7),
        head_pool_kernel_size=(clip_frames, side, side),  # hub: (8, 7, 7) at 8 x 224
        head_activation=None,
    )
    return _finish(ClipEncoder(net, clip_frames, frame_stride, input_size, clip_source), weights_path)


TORCHVISION_VIDEO_MEAN = (0.43216, 0.394666, 0.37645)
TORCHVISION_VIDEO_STD = (0.22803, 0.22145, 0.216989)


class R2Plus1DEncoder(nn.Module):
    """torchvision's R(2+1)D-18 without ``fc``: clips (B, 3, T, S, S) in [0, 1] -> unit 512-d rows."""

    kind = "clips"

    def __init__(self, clip_frames: int, frame_stride: int, input_size: int, clip_source: str):
        super().__init__()
        from torchvision.models.video import r2plus1d_18 as build

        net = build(weights=None)
        self.dim = int(net.fc.in_features)
        net.fc = nn.Identity()
        self.net = net
        self.clip_frames, self.frame_stride, self.input_size = int(clip_frames), int(frame_stride), int(input_size)
        self.clip_source = _clip_source(clip_source)
        shape = (1, 3, 1, 1, 1)
        self.register_buffer("mean", torch.tensor(TORCHVISION_VIDEO_MEAN).view(shape), persistent=False)
        self.register_buffer("std", torch.tensor(TORCHVISION_VIDEO_STD).view(shape), persistent=False)

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.net((clips - self.mean) / self.std), p=2.0, dim=-1)


def r2plus1d_18(
    weights_path: str | Path | None = None,
    *,
    clip_frames: int = 16,
    frame_stride: int = 2,
    input_size: int = 112,
    clip_source: str = "video",
) -> R2Plus1DEncoder:
    """R(2+1)D-18 (torchvision; SEVERE's backbone: 16 frames at 112 px) -> 512-d; weights: torchvision's
    ``r2plus1d_18`` state dict (``fc`` ignored), keys with or without the ``net.`` prefix."""
    if input_size < 16 or clip_frames < 1:
        raise ValueError(f"R(2+1)D-18 needs input_size >= 16 and clip_frames >= 1, got {input_size}, {clip_frames}")
    encoder = R2Plus1DEncoder(clip_frames, frame_stride, input_size, clip_source)
    if weights_path is not None:
        load_state_dict_file(encoder.net, weights_path, ignore_prefixes=("fc.",))
    return encoder.eval()
