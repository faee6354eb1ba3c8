"""The learned localiser: the alignment network's heat map -> connected segments -> boxes with a slope check.

As the VSC-2022 rank-1 did after its heat map: cells above a threshold, grouped
into 8-connected components (a diagonal line is connected), each fitted with a
line (reference seconds per query second, weighted by the cells' probability);
a component whose slope is outside [1 / max_slope, max_slope] is a static scene
or a repeated frame, not a played segment, and is dropped. Each kept component
gives its bounding box and its best cell's probability as the score.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from video_similarity.vsc.localization.params import NetworkParams

_EIGHT = np.ones((3, 3), bool)


def _slope(q: np.ndarray, r: np.ndarray, w: np.ndarray) -> float:
    """Weighted least-squares slope of r on q; a component one row or one column wide gets its extents' ratio."""
    if q.min() == q.max() or r.min() == r.max():
        return (r.max() - r.min() + 1) / (q.max() - q.min() + 1)
    qm, rm = np.average(q, weights=w), np.average(r, weights=w)
    var = float(np.sum(w * (q - qm) ** 2))
    return float(np.sum(w * (q - qm) * (r - rm)) / var)


def decode_heatmap(prob: np.ndarray, *, threshold: float, max_slope: float) -> tuple[np.ndarray, np.ndarray]:
    """Boxes (n, 4) ``[query_min, ref_min, query_max, ref_max]`` (inclusive rows) and scores (n,), best first."""
    prob = np.asarray(prob, dtype=np.float64)
    labels, n = ndimage.label(prob > threshold, structure=_EIGHT)
    boxes, scores = [], []
    for k, where in enumerate(ndimage.find_objects(labels), start=1):
        q, r = np.nonzero(labels[where] == k)
        q, r = q + where[0].start, r + where[1].start
        w = prob[q, r]
        slope = _slope(q.astype(float), r.astype(float), w)
        if not 1.0 / max_slope <= slope <= max_slope:
            continue
        boxes.append((q.min(), r.min(), q.max(), r.max()))
        scores.append(w.max())
    if not boxes:
        return np.zeros((0, 4), np.int64), np.zeros(0)
    order = np.argsort(-np.asarray(scores), kind="stable")
    return np.asarray(boxes, np.int64)[order], np.asarray(scores, float)[order]


class NetworkLocalizer:
    """A trained alignment network (its TorchScript file) as a localiser: sims -> (boxes, scores)."""

    def __init__(self, torchscript: str, params: NetworkParams, device: str = "cpu"):
        from video_similarity.models.checkpoint import load_torchscript

        self.model = load_torchscript(torchscript, map_location=device)
        self.params, self.device = params, device

    def heatmap(self, sims: np.ndarray) -> np.ndarray:
        """Per-cell copy probability of one similarity matrix."""
        import torch

        x = torch.from_numpy(np.ascontiguousarray(sims, dtype=np.float32))[None].to(self.device)
        with torch.inference_mode():
            return torch.sigmoid(self.model(x, torch.ones_like(x, dtype=torch.bool)))[0].cpu().numpy()

    def __call__(self, sims: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return decode_heatmap(self.heatmap(sims), threshold=self.params.threshold, max_slope=self.params.max_slope)
