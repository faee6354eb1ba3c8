"""The notes' "Model #2" video encoder: a Transformer over a video's frame features.

Frame features (B, T, D_in) -- e.g. ResNet-50 average-pool vectors, L2
normalised -- are centred on the training mean and go through a linear
projection to ``dim``; a learned position embedding, a pre-norm
``nn.TransformerEncoder`` and a final LayerNorm give each frame its context,
added to the projection through a gate that starts at 0 (ReZero), so an
untrained encoder passes the projected features through; every output frame
vector is L2-normalised. :func:`video_vector` pools the valid
frames of a video into one unit vector (masked mean, then L2).

Padding: ``mask`` (B, T) is True at padded positions. Padded inputs are zeroed
before use and excluded as attention keys, so whatever they hold (even NaN)
changes neither the valid positions' outputs nor the video vector; padded
outputs are returned as zero vectors.

Long sequences: attention is computed in non-overlapping windows of
``max_len`` frames (positions restart at 0 in each window, the last window is
padded), so any length runs in O(T * max_len) memory with the learned
positions it was trained with; frames do not attend across window borders.
Sequences up to ``max_len`` (the training case) are one window.

Training: :func:`contrastive_step` returns the InfoNCE loss between the video
vectors of two batches of views (the caller does backward / step), calling the
model only through ``model(x, mask)`` so it works under DistributedDataParallel.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from video_similarity.models.checkpoint import read_checkpoint, unwrap
from video_similarity.training.losses import gather_embeddings, info_nce

CHECKPOINT_KIND = "video_transformer"  # its checkpoints: models/checkpoint.py (format 3; older ones: retrain)


class VideoTransformer(nn.Module):
    """Frame features (B, T, input_dim) + padding mask (B, T) -> unit frame vectors (B, T, dim)."""

    kind = "features"  # the encoder contract's third kind: it reads another encoder's rows

    def __init__(
        self,
        input_dim: int = 2048,
        dim: int = 512,
        depth: int = 2,
        heads: int = 8,
        max_len: int = 256,
        dropout: float = 0.1,
        mlp_ratio: float = 4.0,
    ):
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim {dim} is not divisible by {heads} heads")
        if min(input_dim, dim, depth, heads, max_len) < 1:
            raise ValueError("input_dim, dim, depth, heads and max_len must be positive")
        self.config: dict[str, Any] = {
            "input_dim": int(input_dim),
            "dim": int(dim),
            "depth": int(depth),
            "heads": int(heads),
            "max_len": int(max_len),
            "dropout": float(dropout),
            "mlp_ratio": float(mlp_ratio),
        }
        self.input_dim = int(input_dim)
        self.dim = int(dim)
        self.max_len = int(max_len)
        # Frame features share a large common direction (untrained encoders especially); the
        # trainer sets this to the training frames' mean so the projection sees what differs.
        self.register_buffer("input_mean", torch.zeros(input_dim))
        self.input_proj = nn.Linear(input_dim, dim)
        self.pos_embed = nn.Parameter(torch.zeros(1, max_len, dim))
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        self.dropout = nn.Dropout(dropout)
        layer = nn.TransformerEncoderLayer(
            d_model=dim,
            nhead=heads,
            dim_feedforward=int(dim * mlp_ratio),
            dropout=dropout,
            activation="gelu",
            batch_first=True,
            norm_first=True,
        )
        self.encoder = nn.TransformerEncoder(layer, num_layers=depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        # ReZero-style gate on the transformer branch, starting at 0: the untrained encoder returns
        # the projected frame features (a random projection keeps their geometry), so training
        # starts from the base encoder instead of from frames a random transformer has blurred.
        self.context_gate = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if x.dim() != 3 or x.shape[-1] != self.input_dim:
            raise ValueError(f"expected frame features (B, T, {self.input_dim}), got {tuple(x.shape)}")
        b, t, _ = x.shape
        if mask is None:
            mask = torch.zeros(b, t, dtype=torch.bool, device=x.device)
        elif mask.shape != (b, t):
            raise ValueError(f"mask must be (B, T) = {(b, t)}, got {tuple(mask.shape)}")
        mask = mask.to(device=x.device, dtype=torch.bool)
        if t == 0:
            return x.new_zeros(b, 0, self.dim)

        h = self.input_proj((x - self.input_mean).masked_fill(mask.unsqueeze(-1), 0.0))
        projected = h
        m = mask
        if t <= self.max_len:
            n_win, length = 1, t
        else:  # non-overlapping windows of max_len, the last one padded
            n_win, length = -(-t // self.max_len), self.max_len
            pad = n_win * length - t
            h = F.pad(h, (0, 0, 0, pad))
            m = F.pad(m, (0, pad), value=True)
        h = h.reshape(b * n_win, length, self.dim)
        m = m.reshape(b * n_win, length)
        h = self.dropout(h + self.pos_embed[:, :length])
        # A window with no valid frame would give all -inf attention rows (NaN):
        # let it attend normally; its outputs are zeroed below anyway.
        key_mask = m & ~m.all(dim=1, keepdim=True)
        h = self.norm(self.encoder(h, src_key_padding_mask=key_mask))
        h = h.reshape(b, n_win * length, self.dim)[:, :t]
        h = projected + self.context_gate * h
        out = F.normalize(h, p=2.0, dim=-1)
        return out.masked_fill(mask.unsqueeze(-1), 0.0)

    def video_vector(self, features: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Masked mean of per-frame outputs (B, T, dim) -> unit video vectors (B, dim)."""
        return video_vector(features, mask)


def video_vector(features: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean of the valid (mask False) frame vectors, L2-normalised; all-padding rows give zeros."""
    if features.dim() != 3:
        raise ValueError(f"expected (B, T, D) features, got {tuple(features.shape)}")
    if mask is None:
        summed = features.sum(dim=1)
    else:
        valid = (~mask.to(device=features.device, dtype=torch.bool)).unsqueeze(-1)
        summed = (features * valid).sum(dim=1)
    return F.normalize(summed, p=2.0, dim=-1)


def contrastive_step(
    model: nn.Module,
    a: torch.Tensor,
    a_mask: torch.Tensor | None,
    b: torch.Tensor,
    b_mask: torch.Tensor | None,
    tau: float = 0.05,
    gather: bool = False,
) -> torch.Tensor:
    """InfoNCE loss between video vectors of two view batches; row i of ``a`` and ``b`` are positives.

    ``model`` may be wrapped in DDP (only ``model(x, mask)`` is called).
    ``gather=True`` computes the loss over the views of all ranks
    (:func:`~video_similarity.training.losses.gather_embeddings`).
    Returns the scalar loss; backward and the optimiser step are the caller's.
    """
    va = video_vector(model(a, a_mask), a_mask)
    vb = video_vector(model(b, b_mask), b_mask)
    if gather:
        va, vb = gather_embeddings(va), gather_embeddings(vb)
    return info_nce(va, vb, tau=tau)


@torch.no_grad()
def encode_video(model: nn.Module, frames: np.ndarray, device: str | torch.device = "cpu") -> np.ndarray:
    """One video's frame features (T, input_dim) -> unit frame vectors (T, dim), float32.

    Any length (windows of ``max_len`` beyond it); runs in eval mode and
    restores the model's previous mode.
    """
    model = unwrap(model)
    frames = np.asarray(frames, dtype=np.float32)
    if frames.ndim != 2:
        raise ValueError(f"expected frame features (T, D), got shape {frames.shape}")
    was_training = model.training
    model.eval()
    try:
        x = torch.from_numpy(frames).to(device).unsqueeze(0)
        out = model(x)[0]
    finally:
        model.train(was_training)
    return out.float().cpu().numpy()


def load_video_transformer(path: str | Path, map_location: str | torch.device = "cpu") -> VideoTransformer:
    """Rebuild a :class:`VideoTransformer` from its checkpoint alone (the one format), in eval mode."""
    checkpoint = read_checkpoint(path, kind=CHECKPOINT_KIND)
    model = VideoTransformer(**checkpoint.config)
    model.load_state_dict(checkpoint.state_dict)
    return model.to(map_location).eval()


def video_transformer_encoder(weights_path: str | Path | None = None) -> VideoTransformer:
    """Registry builder: a trained video transformer from its checkpoint (it has no random-init use)."""
    if weights_path is None:
        raise ValueError("a video_transformer encoder needs its trained checkpoint as weights")
    return load_video_transformer(weights_path)
