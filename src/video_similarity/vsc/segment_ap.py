"""VSC-2022 matching track metrics: segment AP and pairwise micro-AP, as the official evaluator.

Published matching-track numbers were made with ``vsc/metrics.py`` of facebookresearch/vsc2022
(the project's evaluation spec, section 3), so this follows it step by step, down to the order
of the floating-point sums: score groups, per-pair unions of intervals, ground-truth boxes that
only count once a prediction overlaps them, and per-group deltas. It differs only where the
official code crashes (a zero total length): there it raises a ValueError that says why. A
pair's union changes only when one of its predictions arrives, so only that pair is recomputed
(the official code's cost, without its quadratic re-scan of every pair's predictions).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import sqrt

import numpy as np
import pandas as pd

from video_similarity.metrics.vsc import micro_average_precision
from video_similarity.vsc.matches import SEGMENT_COLUMNS, validate_matches

Interval = tuple[float, float]
Box = tuple[float, float, float, float]  # query_start, query_end, ref_start, ref_end
QUERY, REF = 0, 1


@dataclass(frozen=True, eq=False)
class SegmentAP:
    """Segment AP and its PR curve: one point per score group where recall grew (as the official)."""

    ap: float
    precisions: np.ndarray
    recalls: np.ndarray
    scores: np.ndarray


def _union(intervals: list[Interval]) -> list[Interval]:
    """Sorted disjoint intervals covering ``intervals``; touching ones merge (start <= current end)."""
    if len(intervals) <= 1:
        return list(intervals)
    intervals = sorted(intervals)
    merged = []
    current_start, current_end = intervals[0]
    for start, end in intervals[1:]:
        if start <= current_end:
            current_end = max(end, current_end)
        else:
            merged.append((current_start, current_end))
            current_start, current_end = start, end
    merged.append((current_start, current_end))
    return merged


def _length(intervals: list[Interval]) -> float:
    """Total length, summed left to right from 0.0 (the official order)."""
    length = 0.0
    for start, end in intervals:
        length += end - start
    return length


def _overlap(a: Box, b: Box) -> bool:
    """Whether two boxes intersect with positive area (touching edges do not)."""
    dq = min(a[1], b[1]) - max(a[0], b[0])
    dr = min(a[3], b[3]) - max(a[2], b[2])
    return abs(max(dq, 0) * max(dr, 0)) > 0.0


class _Pair:
    """One (query, ref) pair: its ground truth and the predictions seen so far, per axis."""

    __slots__ = ("gt_union", "gts", "intersection", "pending", "pred_union", "total")

    def __init__(self) -> None:
        self.gts: list[Box] = []
        self.pending: list[Box] = []  # ground-truth boxes no prediction has overlapped yet
        self.gt_union: list[list[Interval]] = [[], []]  # of the overlapped boxes, per axis
        self.pred_union: list[list[Interval]] = [[], []]
        self.intersection = [0.0, 0.0]
        self.total = [0.0, 0.0]

    def gt_length(self, axis: int) -> float:
        return _length(_union([(box[2 * axis], box[2 * axis + 1]) for box in self.gts]))

    def add_prediction(self, box: Box) -> tuple[list[float], list[float]]:
        """Add a prediction; the changes (per axis) of the intersection and of the predicted length."""
        hit = [gt for gt in self.pending if _overlap(gt, box)]
        if hit:
            self.pending = [gt for gt in self.pending if not _overlap(gt, box)]
        delta_intersection, delta_total = [0.0, 0.0], [0.0, 0.0]
        for axis in (QUERY, REF):
            interval = (box[2 * axis], box[2 * axis + 1])
            if hit:
                self.gt_union[axis] = _union(self.gt_union[axis] + [(gt[2 * axis], gt[2 * axis + 1]) for gt in hit])
            self.pred_union[axis] = preds = _union(self.pred_union[axis] + [interval])
            gts = self.gt_union[axis]
            # |P n G| = |P| + |G| - |P u G|, as the official Intervals.intersect_length (exactly 0.0 when G is empty)
            predicted = _length(preds)
            intersection = predicted + _length(gts) - _length(_union(preds + gts)) if gts else 0.0
            delta_intersection[axis] = intersection - self.intersection[axis]
            delta_total[axis] = predicted - self.total[axis]
            self.intersection[axis], self.total[axis] = intersection, predicted
        return delta_intersection, delta_total


def _boxes(df: pd.DataFrame, what: str) -> tuple[list[tuple[str, str]], list[Box]]:
    """(query_id, ref_id) keys and boxes of a matches frame, in row order."""
    missing = [c for c in SEGMENT_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"{what} lack column(s) {missing}; have {list(df.columns)}")
    keys = list(zip(df["query_id"].astype(str).tolist(), df["ref_id"].astype(str).tolist()))
    times = df[SEGMENT_COLUMNS[2:]].to_numpy(dtype=np.float64)
    return keys, [tuple(row) for row in times.tolist()]


def segment_average_precision(ground_truth: pd.DataFrame, predictions: pd.DataFrame) -> SegmentAP:
    """Segment AP of the matching track (VCSL's precision / recall), as the official ``match_metric``.

    Predictions are stable-sorted by score, best first, and taken in groups of equal score. Per
    pair and axis, the union of the predicted intervals is intersected with the union of the
    pair's ground-truth intervals whose box some prediction so far overlaps with positive area.
    After each group: recall = intersection / ground-truth length, precision = intersection /
    predicted length (summed over pairs), R = sqrt(Rq Rr), P = sqrt(Pq Pr), AP += P (R - R_prev).
    A ground truth of zero length, or a first group of zero predicted length on an axis (where
    the official code divides by zero), is a ValueError.
    """
    gt_keys, gt_boxes = _boxes(ground_truth, "ground truth")
    keys, boxes = _boxes(predictions, "predictions")
    if "score" not in predictions.columns:
        raise ValueError(f"predictions lack column 'score'; have {list(predictions.columns)}")
    scores = predictions["score"].to_numpy(dtype=np.float64)
    if not np.isfinite(scores).all():
        raise ValueError("prediction scores must be finite")

    pairs: dict[tuple[str, str], _Pair] = {}
    for key, box in zip(gt_keys, gt_boxes):
        pair = pairs.setdefault(key, _Pair())
        pair.gts.append(box)
        pair.pending.append(box)
    gt_total = [0.0, 0.0]
    for pair in pairs.values():
        for axis in (QUERY, REF):
            gt_total[axis] += pair.gt_length(axis)
    if gt_total[QUERY] <= 0 or gt_total[REF] <= 0:
        raise ValueError(f"the ground truth has no length to recall (query {gt_total[QUERY]}, ref {gt_total[REF]})")

    order = np.argsort(-scores, kind="stable")
    sorted_scores = scores[order]
    group_ends = np.r_[np.flatnonzero(np.diff(sorted_scores) != 0) + 1, len(order)].tolist() if len(order) else []
    order = order.tolist()
    intersection, total = [0.0, 0.0], [0.0, 0.0]
    recall = ap = 0.0
    curve: tuple[list[float], list[float], list[float]] = ([], [], [])
    start = 0
    for end in group_ends:
        for i in order[start:end]:
            pair = pairs.get(keys[i])
            if pair is None:
                pair = pairs[keys[i]] = _Pair()
            delta_intersection, delta_total = pair.add_prediction(boxes[i])
            for axis in (QUERY, REF):
                intersection[axis] += delta_intersection[axis]
                total[axis] += delta_total[axis]
        score = float(sorted_scores[start])
        start = end
        if total[QUERY] == 0 or total[REF] == 0:
            axis = "query" if total[QUERY] == 0 else "ref"
            raise ValueError(
                f"the predictions down to score {score!r} have zero total length on the {axis} axis "
                "(the official evaluator divides by zero here)"
            )
        rq, rr = intersection[QUERY] / gt_total[QUERY], intersection[REF] / gt_total[REF]
        pq, pr = intersection[QUERY] / total[QUERY], intersection[REF] / total[REF]
        # max(.., 0): a rounding residue below zero, where math.sqrt would raise in the official code
        new_recall, precision = sqrt(max(rq * rr, 0.0)), sqrt(max(pq * pr, 0.0))
        delta_recall = new_recall - recall
        ap += precision * delta_recall
        recall = new_recall
        if delta_recall > 0:
            for values, value in zip(curve, (precision, recall, score)):
                values.append(value)
    return SegmentAP(ap, *(np.array(values, dtype=np.float64) for values in curve))


def pair_scores(matches: pd.DataFrame) -> pd.DataFrame:
    """(query_id, ref_id, score) per pair, in order of first appearance; score = max(0.0, best score).

    The official ``CandidatePair.from_matches`` starts each pair's max at 0.0 (a
    ``defaultdict(float)``), so negative scores all become 0.0 and tie there.
    """
    best = matches.groupby(["query_id", "ref_id"], sort=False)["score"].max().clip(lower=0.0)
    return best.reset_index()[["query_id", "ref_id", "score"]]


def pairwise_micro_ap(ground_truth: pd.DataFrame, predictions: pd.DataFrame) -> float:
    """Pairwise micro-AP: each pair scored by its best segment (see :func:`pair_scores`), uAP over all pairs."""
    positives = set(zip(ground_truth["query_id"].astype(str), ground_truth["ref_id"].astype(str)))
    candidates = pair_scores(predictions).astype({"query_id": str, "ref_id": str})
    return float(micro_average_precision(candidates, positives))


def evaluate_matching(
    predictions: pd.DataFrame, ground_truth: pd.DataFrame, return_curve: bool = False
) -> dict | tuple[dict, SegmentAP]:
    """Check and score a matching-track submission: the one scoring path (the CLI and the pipelines).

    With ``return_curve`` the :class:`SegmentAP` (its PR curve) comes back too.
    """
    predictions = validate_matches(predictions, source="predictions")
    ground_truth = validate_matches(ground_truth, source="ground truth", ground_truth=True)
    segment = segment_average_precision(ground_truth, predictions)
    metrics = {
        "segment_ap": round(float(segment.ap), 6),
        "pairwise_uap": round(pairwise_micro_ap(ground_truth, predictions), 6),
        "predictions": len(predictions),
        "predicted_pairs": len(predictions[["query_id", "ref_id"]].drop_duplicates()),
        "ground_truth_segments": len(ground_truth),
        "ground_truth_pairs": len(ground_truth[["query_id", "ref_id"]].drop_duplicates()),
    }
    return (metrics, segment) if return_curve else metrics
