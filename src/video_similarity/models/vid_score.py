"""The VSC-2022 rank-1's "video score" model: does a query video hold copied content?

A small transformer over a video's frame features (an encoder's rows, e.g. the
ensemble's descriptors) gives one logit per video; at inference, queries scored
below a threshold are suppressed. Trained by ``workers/train.py`` (task
``vid_score``), shipped as TorchScript: ``torch.jit.load(path)(features, mask)``
-> logits, with no project code.

Input: features (B, T, D) float, mask (B, T) bool, True at real frames, T <=
``max_frames`` (:func:`pad_features` samples longer videos down and pads).
Sequence: [CLS] + projected frames + [SEP]; positions: CLS 0, the frame in
slot i gets i + 1, SEP gets n + 1 where n is the video's real frame count (BERT's
layout for a video whose frames come first), so SEP's position embedding tells
the length and extra padding changes nothing: padded frames are zeroed before
use and are masked as attention keys, CLS and SEP never are. A video with no
real frame still has CLS and SEP to attend to (its frame mean is 0).

Pre-norm layers (``norm_first=True``) and a final LayerNorm: the residual path
stays an identity at initialisation, which trains stably from a few hundred
labelled videos with the warmup schedule, without the careful learning rate a
post-norm stack needs; the final LayerNorm normalises what the head reads, as
pre-norm leaves the residual stream unnormalised.

Head: concat(CLS output, mean of the real frames' outputs) -> Linear(2 * width, 1).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

CHECKPOINT_KIND = "vid_score"  # its checkpoints: models/checkpoint.py (format 3)


class VideoScoreModel(nn.Module):
    """Frame features (B, T, feature_dim) + mask (B, T), True = real frame -> logits (B,)."""

    def __init__(self, feature_dim: int, width: int = 128, depth: int = 2, heads: int = 4, max_frames: int = 256, dropout: float = 0.1):
        super().__init__()
        if min(feature_dim, width, depth, heads, max_frames) < 1:
            raise ValueError("feature_dim, width, depth, heads and max_frames must be positive")
        if width % heads:
            raise ValueError(f"width {width} is not divisible by {heads} heads")
        self.config = {"feature_dim": int(feature_dim), "width": int(width), "depth": int(depth), "heads": int(heads),
                       "max_frames": int(max_frames), "dropout": float(dropout)}
        self.feature_dim, self.width, self.max_frames = int(feature_dim), int(width), int(max_frames)
        self.input_proj = nn.Linear(feature_dim, width)
        self.input_norm = nn.LayerNorm(width)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, width))
        self.sep_token = nn.Parameter(torch.zeros(1, 1, width))
        self.pos_embed = nn.Parameter(torch.zeros(max_frames + 2, width))
        for p in (self.cls_token, self.sep_token, self.pos_embed):
            nn.init.trunc_normal_(p, std=0.02)
        self.dropout = nn.Dropout(dropout)
        layer = nn.TransformerEncoderLayer(d_model=width, nhead=heads, dim_feedforward=4 * width, dropout=dropout,
                                           activation="gelu", batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers=depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(2 * width, 1)

    def forward(self, features: Tensor, mask: Tensor) -> Tensor:
        if features.dim() != 3 or features.size(2) != self.feature_dim:
            raise ValueError("features must be (B, T, feature_dim)")
        b, t = features.size(0), features.size(1)
        if t > self.max_frames:
            raise ValueError("more frames than max_frames: sample them down first (pad_features)")
        if mask.dim() != 2 or mask.size(0) != b or mask.size(1) != t:
            raise ValueError("mask must be (B, T) like the features")
        valid = mask.to(device=features.device, dtype=torch.bool)
        x = self.input_norm(self.input_proj(features.masked_fill(~valid.unsqueeze(-1), 0.0)))
        counts = valid.sum(dim=1)
        cls = self.cls_token.expand(b, 1, self.width) + self.pos_embed[0]
        sep = self.sep_token.expand(b, 1, self.width) + self.pos_embed[counts + 1].unsqueeze(1)
        h = self.dropout(torch.cat([cls, x + self.pos_embed[1 : t + 1], sep], dim=1))
        special = torch.zeros(b, 1, dtype=torch.bool, device=features.device)
        h = self.norm(self.encoder(h, src_key_padding_mask=torch.cat([special, ~valid, special], dim=1)))
        frames = h[:, 1 : t + 1].masked_fill(~valid.unsqueeze(-1), 0.0)
        mean = frames.sum(dim=1) / counts.clamp(min=1).unsqueeze(-1).to(h.dtype)
        return self.head(torch.cat([h[:, 0], mean], dim=-1)).squeeze(-1)


def video_score_model(feature_dim: int, **options) -> VideoScoreModel:
    """The video score model over ``feature_dim``-d frame features (options: width, depth, heads, max_frames, dropout)."""
    return VideoScoreModel(feature_dim, **options)


def pad_features(rows: list[np.ndarray], max_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-video (n_i, D) rows -> (B, max_frames, D) float32 zero-padded features and a (B, max_frames) mask (True = real frame).

    A video longer than ``max_frames`` keeps ``max_frames`` frames sampled
    uniformly (the middle of ``max_frames`` equal spans), in order.
    """
    if not rows:
        raise ValueError("pad_features needs at least one video (its rows give D)")
    if max_frames < 1:
        raise ValueError(f"max_frames must be positive, got {max_frames}")
    dims = {np.shape(r)[1] if np.ndim(r) == 2 else None for r in rows}
    if len(dims) != 1 or None in dims:
        raise ValueError(f"every video's features must be (n, D) with one D, got shapes {sorted({np.shape(r) for r in rows})}")
    features = np.zeros((len(rows), max_frames, dims.pop()), np.float32)
    mask = np.zeros((len(rows), max_frames), bool)
    for i, r in enumerate(rows):
        n = len(r)
        if n > max_frames:
            r = np.asarray(r)[(2 * np.arange(max_frames) + 1) * n // (2 * max_frames)]
        features[i, : len(r)] = r
        mask[i, : len(r)] = True
    return features, mask


def predict(model, rows: dict[str, np.ndarray], max_frames: int, batch_size: int = 64, device: str | torch.device = "cpu") -> dict[str, float]:
    """Sigmoid scores of ``model`` (a VideoScoreModel or its TorchScript) for each video's (n, D) rows."""
    ids, scores = list(rows), {}
    with torch.no_grad():
        for start in range(0, len(ids), batch_size):
            chunk = ids[start : start + batch_size]
            x, m = pad_features([rows[v] for v in chunk], max_frames)
            logits = model(torch.from_numpy(x).to(device), torch.from_numpy(m).to(device))
            scores.update(zip(chunk, torch.sigmoid(logits.float()).cpu().tolist()))
    return scores


def score_videos(torchscript_path: str | Path, items: dict[str, str], max_frames: int, batch_size: int = 64,
                 device: str | torch.device = "cpu") -> dict[str, float]:
    """Sigmoid scores {video_id: score} of an exported video score model for npz items holding ``features`` (n, D)."""
    from video_similarity.models.checkpoint import load_torchscript

    model = load_torchscript(torchscript_path, map_location=device)
    rows = {}
    for video_id, path in items.items():
        with np.load(path) as data:
            rows[video_id] = data["features"].astype(np.float32)
    return predict(model, rows, max_frames, batch_size, device)
