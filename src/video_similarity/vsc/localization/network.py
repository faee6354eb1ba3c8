"""The learned localiser: the alignment network's heat map -> connected segments -> boxes with a slope check.

As the VSC-2022 rank-1 did after its heat map: cells above a threshold, grouped
into 8-connected components (a diagonal line is connected), each fitted with a
line (reference seconds per query second, weighted by the cells' probability);
a component whose slope is outside [1 / max_slope, max_slope] is a static scene
or a repeated frame, not a played segment, and is dropped. Each kept component
gives a box: its query rows, and the reference span its line gives over them
(a copied second usually overlaps two reference rows, so the cells' extent
overshoots; the line has sub-second edges), within the cells' extent; and a score (``NetworkParams.score``): its best cell's
probability, or its best cell's similarity (the official baseline's rule for
TN's boxes: the network says where, the descriptors how sure).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from video_similarity.vsc.localization.params import NetworkParams

_EIGHT = np.ones((3, 3), bool)


def _line(q: np.ndarray, r: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    """Weighted least-squares line r = slope * q + intercept through the cells' centres (a component one row or one column wide: its extents' ratio)."""
    qc, rc = q + 0.5, r + 0.5
    qm, rm = np.average(qc, weights=w), np.average(rc, weights=w)
    if q.min() == q.max() or r.min() == r.max():
        slope = (r.max() - r.min() + 1) / (q.max() - q.min() + 1)
    else:
        slope = float(np.sum(w * (qc - qm) * (rc - rm)) / np.sum(w * (qc - qm) ** 2))
    return slope, rm - slope * qm


def decode_heatmap(prob: np.ndarray, *, threshold: float, max_slope: float, sims: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Boxes (n, 4) ``[query_start, ref_start, query_end, ref_end]`` (half-open rows) and scores (n,), best first.

    A box scores its component's best probability, or with ``sims`` its best similarity.
    """
    prob = np.asarray(prob, dtype=np.float64)
    labels, n = ndimage.label(prob > threshold, structure=_EIGHT)
    boxes, scores = [], []
    for k, where in enumerate(ndimage.find_objects(labels), start=1):
        q, r = np.nonzero(labels[where] == k)
        q, r = q + where[0].start, r + where[1].start
        w = prob[q, r]
        slope, intercept = _line(q.astype(float), r.astype(float), w)
        if not 1.0 / max_slope <= slope <= max_slope:
            continue
        q0, q1 = float(q.min()), float(q.max() + 1)
        r0 = min(max(slope * q0 + intercept, float(r.min())), float(r.max()))
        r1 = max(min(slope * q1 + intercept, float(r.max() + 1)), r0 + 1e-3)
        boxes.append((q0, r0, q1, r1))
        scores.append(w.max() if sims is None else float(np.max(sims[q, r])))
    if not boxes:
        return np.zeros((0, 4)), np.zeros(0)
    order = np.argsort(-np.asarray(scores), kind="stable")
    return np.asarray(boxes, float)[order], np.asarray(scores, float)[order]


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
        by_similarity = sims if self.params.score == "similarity" else None
        return decode_heatmap(self.heatmap(sims), threshold=self.params.threshold, max_slope=self.params.max_slope, sims=by_similarity)
