"""TN localisation: planted copies give the right boxes, and the boxes equal VCSL's networkx algorithm's."""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
import pytest

from video_similarity.vsc.localization.tn import (
    _edge_weights,
    _top_nodes,
    _topological_rank,
    temporal_network,
)

BASELINE = {"max_step": 5, "top_k": 5, "max_path": 10, "min_sim": 0.2, "min_length": 4, "max_iou": 0.3}


def _noise(shape, seed=0, level=0.1, dtype=np.float64):
    return np.random.default_rng(seed).uniform(-level, level, size=shape).astype(dtype)


def _plant(sims, q0, r0, n, slope=1.0, value=0.9):
    for i in range(n):
        sims[q0 + i, r0 + round(i * slope)] = value
    return sims


def _build_graph(sims, max_step, top_k, min_sim):
    """VCSL's DiGraph, edge for edge and in VCSL's insertion order, sink quirk included."""
    n_query, n_ref = sims.shape
    top = min(top_k, n_ref)
    refs = np.argsort(-sims)[:, :top]
    node_sims = np.take_along_axis(sims, refs, axis=-1)
    pairs = [(-1, -1)]  # node id -> (query frame, reference frame); 0 is the source
    graph = nx.DiGraph()
    graph.add_node(0)
    for q in range(n_query):
        for k in range(top):
            graph.add_node(len(pairs))
            pairs.append((q, int(refs[q, k])))
    for q_i in range(n_query):
        mids = set()
        for q_j in range(q_i + 1, min(n_query, q_i + max_step)):
            reached = []
            for r in range(top):  # np.where order: target rank, then source rank
                for c in range(top):
                    r_i, r_j = int(refs[q_i, c]), int(refs[q_j, r])
                    if not 0 < r_j - r_i < max_step:  # C2
                        continue
                    if any(r_i < m < r_j for m in mids):  # C3
                        continue
                    if not node_sims[q_j, r] >= min_sim:  # C4
                        continue
                    graph.add_edge(1 + q_i * top + c, 1 + q_j * top + r, weight=node_sims[q_j, r])
                    reached.append(r_j)
            mids.update(reached)
    last = len(pairs) - 1
    for i in range(last):
        (q_i, r_i), (q_l, r_l) = pairs[i], pairs[last]
        if q_l > q_i and r_l > r_i and q_l - q_i <= max_step and r_l - r_i <= max_step:
            graph.add_edge(i, last, weight=0)
    return graph, pairs


def _iou(box, boxes):
    if not boxes:
        return 0.0
    b = np.array(boxes)
    lt, rb = np.maximum(box[:2], b[:, :2]), np.minimum(box[2:], b[:, 2:])
    wh = np.maximum(rb - lt + 1, 0)
    inter = wh[:, 0] * wh[:, 1]
    areas = (b[:, 2] - b[:, 0] + 1) * (b[:, 3] - b[:, 1] + 1)
    area = (box[2] - box[0] + 1) * (box[3] - box[1] + 1)
    return (inter / (area + areas - inter)).max()


def reference_tn(sims, *, max_step, top_k, max_path, min_sim, min_length, max_iou):
    """VCSL's ``tn`` (networkx ``dag_longest_path``), written out for the oracle."""
    graph, pairs = _build_graph(sims, max_step, top_k, min_sim)
    last = len(pairs) - 1
    boxes = []
    for _ in range(max_path + 1):
        path = nx.dag_longest_path(graph)
        for u, v in itertools.pairwise(path):
            graph.add_edge(u, v, weight=0.0)
        path = [n for n in path if n not in (0, last)]
        if not path:
            break
        score = 0.0
        for n in path:
            score += sims[pairs[n]]
        qs, rs = [pairs[n][0] for n in path], [pairs[n][1] for n in path]
        box = [min(qs), min(rs), max(qs), max(rs)] if score > 0 else [0, 0, 0, 0]
        ave = (box[3] - box[1] + box[2] - box[0]) / 2
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = score / ave
        if mean > min_sim and min(box[3] - box[1], box[2] - box[0]) > min_length and _iou(box, boxes) < max_iou:
            boxes.append(box)
    return np.array(boxes, np.int64).reshape(-1, 4)


# Runs below start at query frame 0 or reference frame 0. Elsewhere a path begins one node early (next test):
# an edge checks only its target's similarity, so any retained noise match a step before the run can lead it.


def test_diagonal_run_gives_its_box():
    boxes = temporal_network(_plant(_noise((30, 40)), 0, 10, 12), **BASELINE)
    assert boxes.dtype == np.int64
    np.testing.assert_array_equal(boxes, [[0, 10, 11, 21]])
    np.testing.assert_array_equal(temporal_network(_plant(_noise((30, 40)), 5, 0, 12), **BASELINE), [[5, 0, 16, 11]])


def test_path_starts_with_one_unconstrained_node():
    # VCSL's behaviour: the first node of a path is any retained match of a frame up to max_step - 1 before the run
    sims = _plant(_noise((30, 40)), 5, 10, 12)
    (box,) = temporal_network(sims, **BASELINE)
    assert box[2:].tolist() == [16, 21]
    assert 0 < 5 - box[0] < 5 and 0 < 10 - box[1] < 5
    assert box[1] in np.argsort(-sims[box[0]])[:5] and sims[box[0], box[1]] < 0.2
    np.testing.assert_array_equal(reference_tn(sims, **BASELINE), [box])


def test_two_runs_give_two_boxes_longest_first():
    sims = _plant(_plant(_noise((40, 50), seed=1), 20, 0, 10), 0, 30, 14)
    np.testing.assert_array_equal(temporal_network(sims, **BASELINE), [[0, 30, 13, 43], [20, 0, 29, 9]])


def test_slope_two_run_spans_twice_the_references():
    sims = _plant(_noise((30, 60), seed=2), 0, 10, 10, slope=2.0)
    np.testing.assert_array_equal(temporal_network(sims, **BASELINE), [[0, 10, 9, 28]])


@pytest.mark.parametrize("seed", range(3))
def test_noise_gives_no_box(seed):
    assert temporal_network(_noise((50, 70), seed=seed), **BASELINE).shape == (0, 4)


@pytest.mark.parametrize(("n", "expected"), [(4, []), (5, []), (6, [[0, 8, 5, 13]])])
def test_shorter_side_must_exceed_min_length(n, expected):
    boxes = temporal_network(_plant(_noise((30, 30), seed=4), 0, 8, n), **BASELINE)
    np.testing.assert_array_equal(boxes, np.array(expected, np.int64).reshape(-1, 4))


def test_overlapping_path_dropped_by_iou():
    # a parallel diagonal one reference frame over gives further paths, whose boxes overlap the first
    sims = _plant(_plant(_noise((30, 40), seed=5), 0, 10, 12, value=0.9), 0, 11, 12, value=0.8)
    np.testing.assert_array_equal(temporal_network(sims, **BASELINE), [[0, 10, 11, 21]])
    loose = temporal_network(sims, **{**BASELINE, "max_iou": 1.0})
    assert len(loose) > 1 and loose[0].tolist() == [0, 10, 11, 21]
    np.testing.assert_array_equal(loose, reference_tn(sims, **{**BASELINE, "max_iou": 1.0}))


def test_last_node_never_on_a_path():
    # VCSL's sink quirk: with top_k 1 the last node is the run's last frame, which is dropped
    sims = _plant(_noise((12, 20), seed=6), 0, 2, 12)
    params = {**BASELINE, "top_k": 1}
    np.testing.assert_array_equal(temporal_network(sims, **params), [[0, 2, 10, 12]])
    np.testing.assert_array_equal(reference_tn(sims, **params), [[0, 2, 10, 12]])


def test_equal_paths_tie_break_in_networkx_topological_order():
    # both end nodes reach exactly 2.0: four steps of 0.5 (ends at query frame 4), two of 1.0 (ends at frame 22);
    # networkx takes the first in topological order, which ranks by hop count first, so the later, shorter one wins
    # (column 0 is low so that no earlier node can start the second run's path instead of its first frame)
    sims = _noise((30, 30), seed=7, level=0.05)
    sims[:, 0] = -0.5
    sims = _plant(_plant(sims, 0, 10, 5, value=0.5), 20, 0, 3, value=1.0)
    params = {**BASELINE, "min_length": 1}
    np.testing.assert_array_equal(temporal_network(sims, **params), [[20, 0, 22, 2], [0, 10, 4, 14]])
    np.testing.assert_array_equal(reference_tn(sims, **params), [[20, 0, 22, 2], [0, 10, 4, 14]])


@pytest.mark.parametrize("sims", [np.zeros((0, 5)), np.zeros((5, 0)), np.ones((1, 9)), np.ones((9, 1))])
def test_degenerate_shapes_give_no_box(sims):
    boxes = temporal_network(sims, **BASELINE)
    assert boxes.shape == (0, 4) and boxes.dtype == np.int64


def test_nan_is_rejected():
    sims = _plant(_noise((20, 20)), 2, 2, 10)
    sims[3, 7] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        temporal_network(sims, **BASELINE)


@pytest.mark.parametrize("change", [{"top_k": 0}, {"max_step": 0}])
def test_invalid_parameters_are_rejected(change):
    with pytest.raises(ValueError):
        temporal_network(_plant(_noise((20, 20)), 0, 0, 10), **{**BASELINE, **change})


def test_non_matrix_is_rejected():
    with pytest.raises(ValueError, match="2-D"):
        temporal_network(np.zeros((3, 4, 5)), **BASELINE)


def _random_case(i):
    rng = np.random.default_rng(100 + i)
    shapes = [(6, 6), (8, 3), (10, 12), (20, 20), (25, 40), (40, 60), (40, 25), (30, 30)]
    q, r = shapes[i % len(shapes)]
    level = (0.05, 0.15, 0.3)[i % 3]
    sims = rng.uniform(-level, level, size=(q, r))
    for _ in range(rng.integers(1, 4)):
        slope = rng.choice([0.5, 0.75, 1.0, 1.0, 1.5, 2.0])
        n = int(rng.integers(3, max(4, min(q, int(r / slope)))))
        q0 = int(rng.integers(0, q - min(n, q) + 1))
        n = min(n, q - q0)
        r0 = int(rng.integers(0, max(1, r - int(n * slope))))
        for j in range(n):  # odd cases: exactly 0.9 (equal path lengths tie); even: jittered
            rr = r0 + round(j * slope)
            if rr < r:
                sims[q0 + j, rr] = 0.9 if i % 2 else rng.uniform(0.5, 1.0)
    return sims.astype(np.float32) if i % 5 == 4 else sims


@pytest.mark.parametrize("i", range(30))
def test_equals_networkx_reference(i):
    sims = _random_case(i)
    params = {**BASELINE}
    if i % 4 == 3:
        params.update(max_step=3, top_k=3, max_path=6, min_length=2, max_iou=0.5)
    expected = reference_tn(sims, **params)
    np.testing.assert_array_equal(temporal_network(sims, **params), expected)


@pytest.mark.parametrize("i", [1, 5, 9])
def test_topological_rank_is_networkx_order(i):
    sims = _random_case(i)
    refs, node_sims = _top_nodes(sims, 5)
    weights = _edge_weights(refs, node_sims, max_step=5, min_sim=0.2)
    weights[-1, -1] = -np.inf  # without the sink edges, as the module ranks
    graph, _ = _build_graph(sims, 5, 5, 0.2)
    graph.remove_node(0)
    last = graph.number_of_nodes()
    graph.remove_node(last)
    order = np.array(list(nx.topological_sort(graph))) - 1
    ours = np.argsort(_topological_rank(np.isfinite(weights)))
    np.testing.assert_array_equal(ours[ours != last - 1], order)


def _quantised(seed, shape=(12, 12), dtype=np.float32):
    """A matrix of few distinct values: many exactly equal paths, and means on the min_sim boundary."""
    rng = np.random.default_rng(seed)
    return rng.choice(np.float32([0.1, 0.2, 0.3, 0.7, -0.1, 0.2, 0.2]), size=shape).astype(dtype)


@pytest.mark.parametrize("seed", range(8))
def test_equals_networkx_reference_with_many_ties(seed):
    sims = _quantised(seed, shape=(8 + seed, 20 - seed), dtype=np.float64 if seed % 2 else np.float32)
    for params in (BASELINE, {**BASELINE, "top_k": 3, "max_step": 3, "min_length": 1}):
        np.testing.assert_array_equal(temporal_network(sims, **params), reference_tn(sims, **params))


@pytest.mark.parametrize("seed", [10, 17])
def test_float32_input_computed_in_float32_as_vcsl(seed):
    # VCSL sums float32 similarities in float32 (NumPy 2 scalar promotion); float64 sums give other boxes here
    sims = _quantised(seed)
    ours = temporal_network(sims, **BASELINE)
    np.testing.assert_array_equal(ours, reference_tn(sims, **BASELINE))
    assert not np.array_equal(ours, temporal_network(sims.astype(np.float64), **BASELINE))
