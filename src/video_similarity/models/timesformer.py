"""TimeSformer clip encoder with divided space-time attention (the 3D-CSL feature extractor).

Architecture (Bertasius et al. 2021, "Is Space-Time Attention All You Need for
Video Understanding?", variant ``divided_space_time``): every frame of a clip
(B, 3, T, H, W) is cut into 16 x 16 patches by one ``Conv2d``; a learned CLS
token and spatial position embedding (1, 1 + N, D) are added per frame and a
time embedding (1, T, D) is added to the patch tokens. Each block then runs

1. temporal attention: every patch position attends over the same position in
   the T frames (``temporal_norm1`` -> ``temporal_attn`` -> ``temporal_fc``,
   residual); the CLS token does not take part;
2. spatial attention: within each frame, the patches attend over each other and
   over a copy of the CLS token (``norm1`` -> ``attn``, residual); the T CLS
   outputs are averaged into the single CLS residual;
3. an MLP on every token (``norm2`` -> ``mlp.fc1`` -> GELU -> ``mlp.fc2``,
   residual).

A final LayerNorm (``norm``) follows; the clip feature is the CLS token. 3D-CSL
(Deng et al. 2022, github.com/dun-research/3D-CSL) uses this backbone on clips
of 8 frames sampled at 1 fps, 224 px, pixels scaled to [-1, 1], base
(D = 768, 12 blocks, 12 heads) or small (D = 384, 12 blocks, 6 heads),
``qkv_bias=True``, LayerNorm eps 1e-6; it has no classification head.

Checkpoint layout -- matched exactly, high confidence. In the 3D-CSL repository
(``models/model.py``, ``models/backbone.py``) ``SimilarityRecognizer`` holds
``feature_extractor = Timesformer(...)``, which holds ``model =
VisionTransformer(...)``, and ``load_pretrained_weights`` calls
``self.load_state_dict(checkpoint.get('state_dict', checkpoint), strict=True)``
on the ``SimilarityRecognizer``. The published checkpoints therefore have keys
``feature_extractor.model.{cls_token, pos_embed, time_embed,
patch_embed.proj.{weight,bias}, blocks.{i}.{norm1, attn.qkv, attn.proj,
temporal_norm1, temporal_attn.qkv, temporal_attn.proj, temporal_fc, norm2,
mlp.fc1, mlp.fc2}.{weight,bias}, norm.{weight,bias}}``. This module uses the
same module tree, so ``SimilarityRecognizer().state_dict()`` has exactly those
keys. The loader also accepts facebookresearch/TimeSformer checkpoints (keys
``model.<same names>`` plus ``model.head.*``, under ``state_dict`` or
``model_state``) and bare ``<same names>``; a ``module.`` (DataParallel)
prefix is stripped and ``head.*`` keys are ignored. Not verified against the
actual published ``.pth`` files (they are on Google Drive / Baidu, not
reachable here): the layout is inferred from the repository's code, which
loads them strictly.

Input conventions: :meth:`SimilarityRecognizer.extract_features` takes clips
already scaled to [-1, 1] (as 3D-CSL's preprocessing does:
``(x / 255 - 0.5) / 0.5``); :meth:`SimilarityRecognizer.forward` takes the
project's clip-encoder convention, float32 in [0, 1], and scales it itself.
Both return unit-length features (3D-CSL's own ``extract_features`` returns
raw CLS vectors and normalises them separately before the chamfer similarity;
the vectors are the same up to that scaling).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from video_similarity.models.weights import load_state_dict_file

VARIANTS: dict[str, dict[str, int]] = {
    "base": {"embed_dim": 768, "depth": 12, "num_heads": 12},
    "small": {"embed_dim": 384, "depth": 12, "num_heads": 6},
}

# Key prefix of the published 3D-CSL checkpoints (SimilarityRecognizer -> feature_extractor -> model).
CSL3D_PREFIX = "feature_extractor.model."
# facebookresearch/TimeSformer wraps the same VisionTransformer as ``model``.
TIMESFORMER_PREFIX = "model."
_IGNORED_PREFIXES = ("head.",)


class Mlp(nn.Module):
    """fc1 -> GELU -> fc2 (names as in timm / TimeSformer)."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Attention(nn.Module):
    """Multi-head self-attention over (B, L, D) with a fused ``qkv`` projection and ``proj``."""

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = True):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"embed dim {dim} is not divisible by {num_heads} heads")
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, c // self.num_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each (B, heads, L, head_dim)
        out = F.scaled_dot_product_attention(q, k, v)  # scale head_dim ** -0.5, as TimeSformer
        return self.proj(out.transpose(1, 2).reshape(b, n, c))


class DividedSpaceTimeBlock(nn.Module):
    """One TimeSformer block: temporal attention, then spatial attention, then MLP.

    Tokens travel as ``cls`` (B, 1, D) and ``patches`` (B, T, N, D) (frame-major);
    the published implementation keeps one (B, 1 + N*T, D) sequence ordered
    (h, w, t), which is the same computation because attention is
    permutation-equivariant within each group it attends over.
    """

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0, eps: float = 1e-6):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = Attention(dim, num_heads)
        self.temporal_norm1 = nn.LayerNorm(dim, eps=eps)
        self.temporal_attn = Attention(dim, num_heads)
        self.temporal_fc = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, cls: torch.Tensor, patches: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b, t, n, d = patches.shape
        # Temporal: each patch position attends over its T frames.
        xt = patches.transpose(1, 2).reshape(b * n, t, d)
        xt = xt + self.temporal_fc(self.temporal_attn(self.temporal_norm1(xt)))
        # Spatial: each frame's patches attend over each other and a copy of CLS.
        xs = xt.reshape(b, n, t, d).transpose(1, 2).reshape(b * t, n, d)
        seq = torch.cat([cls.expand(b, t, d).reshape(b * t, 1, d), xs], dim=1)
        res = self.attn(self.norm1(seq))
        cls = cls + res[:, 0].reshape(b, t, d).mean(dim=1, keepdim=True)
        xs = xs + res[:, 1:]
        # MLP, token-wise.
        cls = cls + self.mlp(self.norm2(cls))
        xs = xs + self.mlp(self.norm2(xs))
        return cls, xs.reshape(b, t, n, d)


class PatchEmbed(nn.Module):
    """Per-frame non-overlapping patches: (B, 3, T, H, W) -> (B, T, N, D) and the grid (gh, gw)."""

    def __init__(self, img_size: int, patch_size: int, in_chans: int, embed_dim: int):
        super().__init__()
        if img_size % patch_size:
            raise ValueError(f"img_size {img_size} is not a multiple of patch_size {patch_size}")
        self.img_size = img_size
        self.patch_size = patch_size
        self.grid = img_size // patch_size
        self.num_patches = self.grid * self.grid
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
        b, c, t, h, w = x.shape
        frames = x.transpose(1, 2).reshape(b * t, c, h, w)
        p = self.proj(frames)  # (B*T, D, gh, gw)
        gh, gw = p.shape[-2:]
        p = p.flatten(2).transpose(1, 2)  # (B*T, gh*gw, D), row-major grid order
        return p.reshape(b, t, gh * gw, -1), (gh, gw)


def resize_pos_embed(pos_embed: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """(1, 1 + g*g, D) -> (1, 1 + gh*gw, D): nearest-neighbour resize of the patch grid (as TimeSformer).

    The CLS position is kept. Raises ValueError when the source grid is not square.
    """
    n_src = pos_embed.shape[1] - 1
    g = int(round(n_src**0.5))
    if g * g != n_src:
        raise ValueError(f"pos_embed has {n_src} patch positions, not a square grid")
    if (g, g) == tuple(grid):
        return pos_embed
    cls_pos, other = pos_embed[:, :1], pos_embed[:, 1:]
    other = other.transpose(1, 2).reshape(1, -1, g, g)
    other = F.interpolate(other, size=tuple(grid), mode="nearest")
    return torch.cat([cls_pos, other.flatten(2).transpose(1, 2)], dim=1)


def resize_time_embed(time_embed: torch.Tensor, frames: int) -> torch.Tensor:
    """(1, T0, D) -> (1, frames, D) by nearest-neighbour interpolation along time (as TimeSformer)."""
    if time_embed.shape[1] == frames:
        return time_embed
    return F.interpolate(time_embed.transpose(1, 2), size=frames, mode="nearest").transpose(1, 2)


class TimeSformer(nn.Module):
    """The divided space-time ViT (TimeSformer ``VisionTransformer``), without a classification head.

    Parameter names follow facebookresearch/TimeSformer ``vit.py`` (and 3D-CSL's
    copy of it). Inputs whose frame count or grid differ from the configured
    ones use nearest-neighbour resized embeddings, as TimeSformer does.
    """

    def __init__(
        self,
        img_size: int = 224,
        patch_size: int = 16,
        in_chans: int = 3,
        embed_dim: int = 768,
        depth: int = 12,
        num_heads: int = 12,
        mlp_ratio: float = 4.0,
        num_frames: int = 8,
        eps: float = 1e-6,
    ):
        super().__init__()
        self.embed_dim = embed_dim
        self.num_frames = num_frames
        self.patch_embed = PatchEmbed(img_size, patch_size, in_chans, embed_dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, self.patch_embed.num_patches + 1, embed_dim))
        self.time_embed = nn.Parameter(torch.zeros(1, num_frames, embed_dim))
        self.blocks = nn.ModuleList(
            [DividedSpaceTimeBlock(embed_dim, num_heads, mlp_ratio, eps) for _ in range(depth)]
        )
        self.norm = nn.LayerNorm(embed_dim, eps=eps)
        self.init_weights()

    def init_weights(self) -> None:
        """TimeSformer's random init: truncated normal (std 0.02), zero biases, zero time
        embedding, and ``temporal_fc`` zeroed in every block but the first."""
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        nn.init.zeros_(self.time_embed)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        for i, blk in enumerate(self.blocks):
            if i > 0:
                nn.init.zeros_(blk.temporal_fc.weight)
                nn.init.zeros_(blk.temporal_fc.bias)

    def forward_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, C, T, H, W) -> final-normed CLS (B, D) and patch tokens (B, T, N, D)."""
        if x.dim() != 5:
            raise ValueError(f"expected a (B, C, T, H, W) clip batch, got shape {tuple(x.shape)}")
        b, _, t, _, _ = x.shape
        patches, grid = self.patch_embed(x)
        pos = resize_pos_embed(self.pos_embed, grid)
        patches = patches + pos[:, 1:].unsqueeze(1)  # same spatial position for every frame
        patches = patches + resize_time_embed(self.time_embed, t).unsqueeze(2)  # (1, T, 1, D)
        cls = (self.cls_token + pos[:, :1]).expand(b, 1, -1)
        for blk in self.blocks:
            cls, patches = blk(cls, patches)
        return self.norm(cls[:, 0]), self.norm(patches)

    def extract_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, T, H, W) -> the final-normed CLS token (B, D), not L2-normalised."""
        return self.forward_features(x)[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.extract_features(x)


class FeatureExtractor(nn.Module):
    """3D-CSL's thin wrapper (its class ``Timesformer``, the attribute ``feature_extractor``) holding the ViT as ``model``; kept for key names."""

    def __init__(self, **kwargs: Any):
        super().__init__()
        self.model = TimeSformer(**kwargs)

    def extract_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.extract_features(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def remap_published_layout(state: dict[str, torch.Tensor], backbone: nn.Module) -> dict[str, torch.Tensor]:
    """The weights loader's hook for 3D-CSL / TimeSformer files: bare key names, embeddings fitted to ``backbone``.

    Strips ``module.`` and the ``feature_extractor.model.`` (3D-CSL) or ``model.`` (TimeSformer)
    prefix; resizes a ``time_embed`` for another frame count and a ``pos_embed``
    for another square grid (nearest neighbour, as TimeSformer). ``head.*`` is
    left for the loader to ignore.
    """
    state = {(k[len("module."):] if k.startswith("module.") else k): v for k, v in state.items()}  # DataParallel, per key
    for prefix in (CSL3D_PREFIX, TIMESFORMER_PREFIX):
        if any(k.startswith(prefix) for k in state):
            state = {(k[len(prefix):] if k.startswith(prefix) else k): v for k, v in state.items()}
            break
    state = dict(state)
    dim = backbone.embed_dim
    time_embed = state.get("time_embed")
    if time_embed is not None and time_embed.dim() == 3 and time_embed.shape[-1] == dim:
        state["time_embed"] = resize_time_embed(time_embed.float(), backbone.num_frames)
    pos_embed = state.get("pos_embed")
    if pos_embed is not None and pos_embed.dim() == 3 and pos_embed.shape[-1] == dim:
        grid = backbone.patch_embed.grid
        state["pos_embed"] = resize_pos_embed(pos_embed.float(), (grid, grid))
    return state


class SimilarityRecognizer(nn.Module):
    """3D-CSL clip encoder: clips (B, 3, 8, 224, 224) -> unit CLS features (B, D).

    ``model_type`` is ``"base"`` (D = 768) or ``"small"`` (D = 384);
    ``overrides`` may change ``img_size``, ``patch_size``, ``num_frames``,
    ``embed_dim``, ``depth``, ``num_heads``, ``mlp_ratio`` (tiny test models).
    Follows the project's clip-encoder contract: ``kind``, ``input_size``,
    ``clip_frames``, ``frame_stride`` (1: consecutive frames of the 1-fps
    archives) and ``dim``.
    """

    kind = "clips"
    clip_source = "archive"  # clips of consecutive 1-fps archive frames, as 3D-CSL samples them

    def __init__(self, model_type: str = "base", batch_size: int = 8, **overrides: Any):
        super().__init__()
        if model_type not in VARIANTS:
            raise ValueError(f"model_type must be one of {sorted(VARIANTS)}, got {model_type!r}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        config: dict[str, Any] = {"img_size": 224, "patch_size": 16, "num_frames": 8, **VARIANTS[model_type]}
        allowed = set(config) | {"mlp_ratio", "in_chans", "eps"}
        unknown = sorted(set(overrides) - allowed)
        if unknown:
            raise TypeError(f"unknown SimilarityRecognizer overrides: {unknown}")
        config.update(overrides)
        self.model_type = model_type
        self.batch_size = int(batch_size)
        self.config = config
        self.feature_extractor = FeatureExtractor(**config)
        self.input_size = int(config["img_size"])
        self.clip_frames = int(config["num_frames"])
        self.frame_stride = 1
        self.dim = int(config["embed_dim"])

    @property
    def backbone(self) -> TimeSformer:
        return self.feature_extractor.model

    def load_pretrained_weights(self, path: str | Path, weights_only: bool = True) -> None:
        """Load a 3D-CSL / TimeSformer checkpoint from a local file, strictly, through the one weights loader.

        Accepts ``{"state_dict": ...}`` (the published layout), ``{"model_state": ...}``
        or a plain state dict, with or without ``module.``; the layout is mapped by
        :func:`remap_published_layout`; ``head.*`` is ignored. Missing, unexpected or
        mis-shaped keys raise :class:`~video_similarity.models.weights.WeightsFileError`
        naming the file. ``weights_only=False`` unpickles arbitrary objects: use it
        only for files you trust, if the safe loader refuses one.
        """
        load_state_dict_file(self.backbone, path, ignore_prefixes=_IGNORED_PREFIXES, weights_only=weights_only, remap=remap_published_layout)

    def extract_features(self, x: torch.Tensor) -> torch.Tensor:
        """Clips (B, 3, T, H, W) already scaled to [-1, 1] -> unit CLS features (B, D).

        Runs in chunks of ``batch_size`` clips to bound memory.
        """
        if x.dim() != 5 or x.shape[1] != 3:
            raise ValueError(f"expected clips of shape (B, 3, T, H, W), got {tuple(x.shape)}")
        if x.shape[0] == 0:
            return x.new_zeros(0, self.dim)
        feats = [self.backbone.extract_features(chunk) for chunk in x.split(self.batch_size)]
        return F.normalize(torch.cat(feats, dim=0), p=2.0, dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Clip-encoder contract: (B, 3, T, H, W) float in [0, 1] -> unit features (B, D)."""
        return self.extract_features(x * 2.0 - 1.0)


def csl3d_base(weights_path: str | Path | None = None, **overrides: Any) -> SimilarityRecognizer:
    """3D-CSL base (ViT-B/16 TimeSformer, 768-d); random init when ``weights_path`` is None."""
    model = SimilarityRecognizer("base", **overrides)
    if weights_path is not None:
        model.load_pretrained_weights(weights_path)
    return model


def csl3d_small(weights_path: str | Path | None = None, **overrides: Any) -> SimilarityRecognizer:
    """3D-CSL small (ViT-S/16 TimeSformer, 384-d); random init when ``weights_path`` is None."""
    model = SimilarityRecognizer("small", **overrides)
    if weights_path is not None:
        model.load_pretrained_weights(weights_path)
    return model
