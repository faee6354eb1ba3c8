"""Query rows that say the same thing twice: a fixed-threshold de-duplication, and the cut to the descriptor budget.

The challenge allows one descriptor per second of query video on average (the
sum of ceil(duration) over the queries, a global budget). Scene parts add rows;
where the total passes the budget, :func:`fit_budget` drops the rows that are
most similar to a neighbouring row of their own video first, so a static shot
loses its repeats and a busy one keeps its seconds. A fixed threshold
(:func:`drop_near_duplicates`) is what the rank-1 did; on real footage with
static shots it drops most of a query, so it is a setting the tuner may choose,
not the default.
"""

from __future__ import annotations

import heapq
import logging

import numpy as np

from video_similarity.descriptors import Descriptors

log = logging.getLogger(__name__)


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)).astype(np.float32)


def drop_near_duplicates(descriptors: Descriptors, threshold: float) -> Descriptors:
    """Drop a frame whose cosine similarity with the last kept frame of its video exceeds ``threshold``.

    The kept frame's interval is extended over the frames it stands for.
    """
    keep: list[int] = []
    ends = np.asarray(descriptors.timestamps, dtype=np.float64).copy()
    feats = _unit(descriptors.features)
    for i in range(len(feats)):
        if keep and descriptors.video_ids[keep[-1]] == descriptors.video_ids[i] and float(feats[keep[-1]] @ feats[i]) > threshold:
            if ends.ndim == 2:
                ends[keep[-1], 1] = ends[i, 1]
            continue
        keep.append(i)
    index = np.asarray(keep, dtype=np.int64)
    return Descriptors(descriptors.video_ids[index], ends[index], descriptors.features[index])


def fit_budget(descriptors: Descriptors, budget: int) -> Descriptors:
    """At most ``budget`` rows: the most redundant row goes first, until the total fits.

    A row's redundancy is its cosine similarity with the more similar of its
    kept neighbours in the same run of its video (rows in time order; a run ends
    where time goes back, as where a query's scene parts follow its own frames).
    The dropped row's interval goes to that neighbour. A row without neighbours
    is never dropped, so every video keeps at least one row; the result can
    exceed the budget only when every video is down to such rows.
    """
    n = len(descriptors)
    excess = n - int(budget)
    if excess <= 0:
        return descriptors
    feats = _unit(descriptors.features)
    stamps = np.asarray(descriptors.timestamps, dtype=np.float64).copy()
    starts = stamps[:, 0] if stamps.ndim == 2 else stamps
    ids = descriptors.video_ids
    same_run = np.zeros(n, dtype=bool)  # row i follows row i - 1 in the same run
    if n > 1:
        same_run[1:] = (ids[1:] == ids[:-1]) & (starts[1:] >= starts[:-1])
    prev = np.where(same_run, np.arange(n) - 1, -1)
    nxt = np.full(n, -1)
    nxt[:-1] = np.where(same_run[1:], np.arange(1, n), -1)
    alive = np.ones(n, dtype=bool)
    version = np.zeros(n, dtype=np.int64)

    def best_neighbour(i: int) -> tuple[float, int]:
        options = [(float(feats[i] @ feats[j]), j) for j in (prev[i], nxt[i]) if j >= 0]
        return max(options) if options else (-np.inf, -1)

    heap = [(-s, i, 0) for i in range(n) for s, j in [best_neighbour(i)] if j >= 0]
    heapq.heapify(heap)
    while excess > 0 and heap:
        _, i, v = heapq.heappop(heap)
        if not alive[i] or v != version[i]:
            continue
        similarity, j = best_neighbour(i)
        if j < 0:
            continue
        alive[i] = False
        excess -= 1
        if stamps.ndim == 2:  # the neighbour stands for the dropped second too
            if j == prev[i]:
                stamps[j, 1] = max(stamps[j, 1], stamps[i, 1])
            else:
                stamps[j, 0] = min(stamps[j, 0], stamps[i, 0])
        p, q = prev[i], nxt[i]
        if p >= 0:
            nxt[p] = q
        if q >= 0:
            prev[q] = p
        for k in (p, q):
            if k >= 0:
                version[k] += 1
                s, m = best_neighbour(k)
                if m >= 0:
                    heapq.heappush(heap, (-s, k, int(version[k])))
    if excess > 0:
        log.warning("%d rows over the descriptor budget of %d remain: every video is down to rows without a neighbour", excess, budget)
    index = np.flatnonzero(alive)
    return Descriptors(ids[index], stamps[index], descriptors.features[index])
