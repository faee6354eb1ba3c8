"""Temporal Network (TN): copied segments as longest paths through a DAG of frame matches.

TN (Tan et al. 2009) keeps, for each query frame, its ``top_k`` most similar
reference frames as graph nodes, and links a node to a later query frame's node
when both indices advance by less than ``max_step`` and no other retained match
lies in between (temporal consistency). An edge weighs its target's
similarity. The longest path is the best-aligned copied segment; its edges are
zeroed and the search repeats, so up to ``max_path + 1`` segments are found;
each is kept as a box if its mean similarity per step, its length and its
overlap with the boxes already kept allow.

This is a rewrite of VCSL's ``vcsl.vta.tn`` (alipay/VCSL), which the official
VSC-2022 baseline runs to localise candidate pairs. VCSL's code no longer runs
on current NumPy (it uses the removed ``np.bool``) and rebuilds networkx's
``dag_longest_path`` in pure Python over a ``DiGraph`` for every segment. Here
the graph is a dense tensor of edge weights (target layer, target rank, step
back, source rank) and the longest path is a dynamic programme vectorised per
query-frame layer, recomputed after each segment only where the zeroed
path can have changed it.

VCSL's quirks are kept on purpose so that the boxes are identical: its C3 test
(strict inequalities, intermediate set grown per step), its "sink" node (see
``_drop_sink_edges``), networkx's tie-breaking (first best predecessor in node
order; first best end node in networkx's topological order), the box rule
(mean over ``(width + height) / 2``, shorter side ``> min_length``, IoU with
VCSL's inclusive ``+1`` convention) and the arithmetic in the input's float
dtype.

References:
    Tan H.-K., Ngo C.-W., Hong R., Chua T.-S. Scalable detection of partial
    near-duplicate videos by visual-temporal consistency. ACM Multimedia 2009,
    145-154.
    He S. et al. A Large-scale Comprehensive Dataset and Copy-overlap Aware
    Evaluation Protocol for Segment-level Video Copy Detection (VCSL). CVPR 2022.
"""

from __future__ import annotations

import numpy as np


def _as_similarity(sims: np.ndarray) -> np.ndarray:
    """A 2-D float32/float64 array without NaN (other dtypes become float64)."""
    sims = np.asarray(sims)
    if sims.ndim != 2:
        raise ValueError(f"sims must be a 2-D (query, reference) matrix, got shape {sims.shape}")
    if sims.dtype not in (np.float32, np.float64):
        sims = sims.astype(np.float64)
    if np.isnan(sims).any():
        raise ValueError("sims contains NaN")
    return sims


def _top_nodes(sims: np.ndarray, top_k: int) -> tuple[np.ndarray, np.ndarray]:
    """Each query frame's ``min(top_k, R)`` best reference frames and their similarities, shape (Q, K).

    The same (unstable) argsort call as VCSL, so that equal similarities rank alike.
    """
    refs = np.argsort(-sims)[:, : min(top_k, sims.shape[1])]
    return refs, np.take_along_axis(sims, refs, axis=-1)


def _edge_weights(refs: np.ndarray, node_sims: np.ndarray, *, max_step: int, min_sim: float) -> np.ndarray:
    """The TN graph as weights ``w[q_j, r, S - d, c]`` of edge ``(q_j - d, c) -> (q_j, r)``; -inf: no edge.

    Node ``(q, k)`` is query frame ``q`` matched to reference frame ``refs[q, k]``.
    For a source layer ``q_i`` and steps ``d = 1 .. S = min(max_step, Q) - 1`` in turn
    (vectorised over all ``q_i``), an edge ``c -> r`` exists when
    C2: ``0 < refs[q_i + d, r] - refs[q_i, c] < max_step``,
    C4: the target's similarity ``>= min_sim``, and
    C3: no reference frame targeted by a valid edge of ``q_i`` at an earlier step
    (any source rank) lies strictly between the two reference frames.
    The step axis runs from the farthest source layer to the nearest, so that a
    flattened (step, source rank) axis is networkx's predecessor order (node id).
    """
    n_query, k = refs.shape
    n_steps = min(max_step - 1, n_query - 1)  # no step can go past the last query frame
    weights = np.full((n_query, k, n_steps, k), -np.inf, dtype=node_sims.dtype)
    strong = node_sims >= min_sim  # C4, per target node
    mids: list[np.ndarray] = []  # per earlier step: reference frames of the targets, rows = source layer
    mids_live: list[np.ndarray] = []  # ... and whether a valid edge of that source layer reached them
    for step in range(1, n_steps + 1):
        n = n_query - step  # source layers that have a layer `step` ahead
        src = refs[:n, None, :]  # (n, 1, c)
        dst = refs[step:, :, None]  # (n, r, 1)
        diff = dst - src
        valid = (diff > 0) & (diff < max_step) & strong[step:, :, None]  # (n, r, c)
        if mids:
            mid = np.concatenate([m[:n] for m in mids], axis=1)[:, None, None, :]  # (n, 1, 1, M)
            live = np.concatenate([m[:n] for m in mids_live], axis=1)[:, None, None, :]
            between = live & (mid > src[..., None]) & (mid < dst[..., None])  # (n, r, c, M)
            valid &= ~between.any(axis=-1)
        mids.append(refs[step:])
        mids_live.append(valid.any(axis=2))
        weights[step:, :, n_steps - step, :] = np.where(valid, node_sims[step:, :, None], -np.inf)
    return weights


def _drop_sink_edges(weights: np.ndarray) -> None:
    """VCSL's "sink" quirk, in effect: the last node (last query frame, lowest retained rank) is never on a path.

    VCSL links every node i (and its source (-1, -1)) to the last node L with
    weight 0 when L is ahead by 1 .. max_step on both axes. ``add_edge``
    overwrites, and every regular edge into L satisfies that condition, so
    all edges into L weigh 0. L has no successors (nothing follows the last
    query frame), so its distance equals its best predecessor's, which comes
    earlier in any topological order and so wins the end-node choice; with no
    predecessor its distance is 0, which only wins when every distance is 0,
    and then the source (topologically first) is the end and the search stops.
    Hence L never appears on a path (VCSL's "remove sink" is a no-op) and its
    similarity never counts: dropping the edges into L gives the same paths.
    The source, whose only possible edge is one of these, is left out likewise.
    """
    weights[-1, -1] = -np.inf


def _topological_rank(has_edge: np.ndarray) -> np.ndarray:
    """Each node's position (flat ``q * K + k``) in networkx's ``topological_sort`` of the graph.

    networkx (>= 2.6) emits generations (longest hop count from a node without
    predecessors); generation 0 in node order, and generation h + 1 in the order
    its nodes lose their last predecessor while generation h is walked in order
    with successors in node order, i.e. sorted by (latest predecessor, node id).
    Only needed to break exact ties between end nodes.
    """
    n_query, k, n_steps, _ = has_edge.shape
    gen = np.zeros((n_steps + n_query, k), np.intp)  # n_steps rows of padding before layer 0
    for q in range(1, n_query):
        cand = np.where(has_edge[q], gen[q : q + n_steps] + 1, 0)
        gen[q + n_steps] = cand.reshape(k, -1).max(axis=1)
    gen = gen[n_steps:].ravel()
    q_dst, r_dst, slot, c_src = np.nonzero(has_edge)
    dst = q_dst * k + r_dst
    src = (q_dst - n_steps + slot) * k + c_src
    by_edge_gen = np.argsort(gen[dst], kind="stable")
    dst, src = dst[by_edge_gen], src[by_edge_gen]
    by_node_gen = np.argsort(gen, kind="stable")  # node ids ascending within a generation
    levels = np.arange(gen.max() + 2)
    edge_bounds = np.searchsorted(gen[dst], levels)
    node_bounds = np.searchsorted(gen[by_node_gen], levels)
    rank = np.empty(gen.size, np.intp)
    latest = np.full(gen.size, -1, np.intp)
    for h in levels[:-1]:
        e = slice(edge_bounds[h], edge_bounds[h + 1])
        np.maximum.at(latest, dst[e], rank[src[e]])
        nodes = by_node_gen[node_bounds[h] : node_bounds[h + 1]]
        nodes = nodes[np.lexsort((nodes, latest[nodes]))]
        rank[nodes] = np.arange(node_bounds[h], node_bounds[h + 1])
    return rank


class _LongestPaths:
    """networkx ``dag_longest_path`` over the weight tensor, updated incrementally as path edges are zeroed.

    ``dist[v]`` is the best ``dist[u] + w(u, v)`` over predecessors u (the first
    in node order on ties), or 0 without a predecessor or when that best is
    negative (then v starts its path). A layer depends only on its own weights
    and the S layers before it, so after zeroing a path the distances are
    recomputed from the path's second layer, and only until S layers in a row
    past the path's end come out unchanged.
    """

    def __init__(self, weights: np.ndarray) -> None:
        self.weights = weights
        n_query, self.k, self.n_steps, _ = weights.shape
        self._w = weights.reshape(n_query, self.k, -1)  # a view: predecessors flattened in node order
        self._dist = np.zeros((self.n_steps + n_query) * self.k, weights.dtype)  # flat, n_steps layers of padding
        self._best = np.zeros((n_query, self.k), np.intp)  # best predecessor: flat (step slot, source rank)
        self._best_len = np.full((n_query, self.k), -np.inf, weights.dtype)  # its dist + weight; < 0: a path start
        self._dirty = (1, n_query - 1)  # first and last layer whose weights changed (layer 0 has no predecessors)
        self._rank: np.ndarray | None = None

    def _update(self) -> None:
        if self._dirty is None:
            return
        first, last = self._dirty
        k, span, rows, dist = self.k, self.n_steps * self.k, np.arange(self.k), self._dist
        settled = 0  # consecutive layers after `last` whose distances came out unchanged
        for q in range(first, self._w.shape[0]):
            cand = self._w[q] + dist[q * k : q * k + span]
            best = cand.argmax(axis=1)
            val = cand[rows, best]
            new = np.maximum(val, 0)
            out = dist[q * k + span : q * k + span + k]
            if q > last:
                settled = 0 if (new != out).any() else settled + 1
            out[:] = new
            self._best[q] = best
            self._best_len[q] = val
            if settled == self.n_steps:  # the next layer's inputs are all as before, and so is the rest
                break
        self._dirty = None

    def _pred(self, node: int) -> int | None:
        q, r = divmod(node, self.k)
        if self._best_len[q, r] < 0:
            return None
        slot, c = divmod(int(self._best[q, r]), self.k)
        return (q - self.n_steps + slot) * self.k + c

    def _first_in_topological_order(self, ends: np.ndarray, dist: np.ndarray) -> int:
        """Of several nodes with the largest dist, the one networkx's topological order (not node order) puts first.

        Usually they hang off one of them through zeroed edges (an ancestor is
        first in any topological order); only otherwise (e.g. equal planted
        values) is networkx's order itself computed.
        """
        roots = set()
        for node in ends.tolist():
            while (pred := self._pred(node)) is not None and dist[pred] == dist[node]:
                node = pred
            roots.add(node)
        if len(roots) == 1:
            return roots.pop()
        if self._rank is None:
            self._rank = _topological_rank(np.isfinite(self.weights))  # zeroing keeps edges finite
        return int(ends[np.argmin(self._rank[ends])])

    def pop(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The longest path as (query frames, ranks), start first, its edges then zeroed; None if every dist is 0."""
        self._update()
        dist = self._dist[self.n_steps * self.k :]
        top = dist.max()
        if not top > 0:  # the source (dist 0, topologically first) is the end: an empty path
            return None
        ends = np.flatnonzero(dist == top)
        end = int(ends[0]) if len(ends) == 1 else self._first_in_topological_order(ends, dist)
        q, r = divmod(end, self.k)
        qs, rs = [q], [r]
        while self._best_len[q, r] >= 0:
            slot, c = divmod(int(self._best[q, r]), self.k)
            self.weights[q, r, slot, c] = 0.0
            q, r = q - self.n_steps + slot, c
            qs.append(q)
            rs.append(r)
        self._dirty = (qs[-2], qs[0])  # the layers of the zeroed edges' targets
        return np.array(qs[::-1]), np.array(rs[::-1])


def _max_iou(box: np.ndarray, boxes: list[np.ndarray]) -> float:
    """Largest IoU of ``box`` with ``boxes`` (0 if none), inclusive coordinates as VCSL's ``iou``."""
    if not boxes:
        return 0.0
    kept = np.array(boxes)
    lt = np.maximum(box[:2], kept[:, :2])
    rb = np.minimum(box[2:], kept[:, 2:])
    wh = np.maximum(rb - lt + 1, 0)
    inter = wh[:, 0] * wh[:, 1]
    area = (box[2] - box[0] + 1) * (box[3] - box[1] + 1)
    areas = (kept[:, 2] - kept[:, 0] + 1) * (kept[:, 3] - kept[:, 1] + 1)
    return float((inter / (area + areas - inter)).max())


def temporal_network(
    sims: np.ndarray, *, max_step: int, top_k: int, max_path: int, min_sim: float, min_length: int, max_iou: float
) -> np.ndarray:
    """Copied segments of a (Q, R) similarity matrix by TN, as VCSL's ``tn`` finds them.

    Returns int64 boxes (n, 4), rows ``[query_min, ref_min, query_max, ref_max]``
    (inclusive frame indices) in the order they were accepted. A path is kept if
    its summed similarity over ``(width + height) / 2`` exceeds ``min_sim``, its
    shorter side exceeds ``min_length`` and its IoU with every kept box is below
    ``max_iou``. Raises ValueError for NaN, a non-2-D matrix, ``top_k < 1`` or
    ``max_step < 1``.
    """
    sims = _as_similarity(sims)
    if top_k < 1 or max_step < 1:
        raise ValueError(f"top_k and max_step must be >= 1, got {top_k} and {max_step}")
    n_query, n_ref = sims.shape
    if n_query < 2 or n_ref < 2 or max_step < 2:  # no edge can exist
        return np.zeros((0, 4), np.int64)
    refs, node_sims = _top_nodes(sims, top_k)
    weights = _edge_weights(refs, node_sims, max_step=max_step, min_sim=min_sim)
    _drop_sink_edges(weights)
    paths = _LongestPaths(weights)
    boxes: list[np.ndarray] = []
    for _ in range(max_path + 1):
        path = paths.pop()
        if path is None:
            break
        qs, rs = path[0], refs[path]
        score = np.cumsum(sims[qs, rs])[-1]  # sequential, in sims' dtype, like VCSL's running sum
        if score > 0:
            box = np.array([qs.min(), rs.min(), qs.max(), rs.max()], np.int64)
        else:
            box = np.zeros(4, np.int64)
        q_len, r_len = int(box[2] - box[0]), int(box[3] - box[1])
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = score / ((r_len + q_len) / 2)
        if mean > min_sim and min(r_len, q_len) > min_length and _max_iou(box, boxes) < max_iou:
            boxes.append(box)
    return np.array(boxes, np.int64).reshape(-1, 4)
