"""The command's candidates are the official baseline's; the threshold is where pair F1 is best."""

import numpy as np
import pandas as pd
import pytest

from tests.pipelines.conftest import unit_descriptors
from video_similarity.descriptors import Descriptors
from video_similarity.metrics.vsc import knn_candidates
from video_similarity.vsc.copies.search import choose_threshold, held_out_thresholds, search_candidates, threshold_groups
from video_similarity.search_index import build_index
from video_similarity.vsc.localization.params import TnParams
from video_similarity.vsc.localization.registry import TnLocalizer


def _videos(prefix: str, n_videos: int, rows: int, seed: int) -> Descriptors:
    ids = [f"{prefix}{k}" for k in range(n_videos) for _ in range(rows)]
    d = unit_descriptors(ids, n_dim=16, seed=seed)
    return Descriptors(d.video_ids, np.tile(np.stack([np.arange(rows), np.arange(rows) + 1], 1), (n_videos, 1)).astype(np.float32), d.features)


@pytest.mark.parametrize("retrieval", [5, 40, 1200])
def test_candidates_equal_the_official_search_of_each_query_alone(retrieval):
    refs, queries = _videos("R", 12, 6, 0), _videos("Q", 3, 5, 1)
    found = search_candidates(build_index(refs.features), refs.video_ids, queries, retrieval, 4)
    for query_id, a, b in queries.video_groups():
        alone = Descriptors(queries.video_ids[a:b], queries.timestamps[a:b], queries.features[a:b])
        expected = knn_candidates(alone, refs, retrieval_per_query=retrieval, candidates_per_query=4)
        mine = found[found["query_id"] == query_id].reset_index(drop=True)
        pd.testing.assert_frame_equal(mine, expected, check_dtype=False, atol=1e-6)


def test_threshold_is_the_best_f1_cut_and_counts_unfound_copies():
    matches = pd.DataFrame({"query_id": ["a", "a", "b", "c", "d"], "ref_id": ["x", "x", "y", "z", "w"], "score": [0.9, 0.2, 0.8, 0.5, 0.1]})
    positives = {("a", "x"), ("b", "y"), ("d", "w"), ("e", "v")}  # (e, v) is never found
    chosen = choose_threshold(matches, positives)
    # F1 = 2 tp / (tp + fp + 4) at each cut: 0.9 -> 2/5, 0.8 -> 4/6, 0.5 -> 4/7, 0.1 -> 6/8
    assert chosen.threshold == 0.1 and chosen.precision == 0.75 and chosen.recall == 0.75 and chosen.f1 == pytest.approx(6 / 8)
    assert chosen.pairs == 4 and chosen.positives == 4
    tie = choose_threshold(pd.DataFrame({"query_id": ["a", "b"], "ref_id": ["x", "y"], "score": [0.5, 0.5]}), {("a", "x")})
    assert tie.threshold == 0.5 and tie.precision == 0.5  # equal scores are one cut


def test_held_out_thresholds_separate_copies_from_the_rest():
    rng = np.random.default_rng(3)
    refs = _videos("R", 8, 10, 4)
    copies = {"Q0": "R1", "Q1": "R2", "Q2": "R5", "Q3": "R6"}
    rows, ids = [], []
    for k in range(6):
        q = f"Q{k}"
        if q in copies:  # rows 2..7 of its reference, a little noise
            a = int(np.flatnonzero(refs.video_ids == copies[q])[0])
            block = refs.features[a + 2 : a + 8] + 0.05 * rng.normal(size=(6, 16))
        else:
            block = rng.normal(size=(6, 16))
        rows.append(block / np.linalg.norm(block, axis=1, keepdims=True))
        ids += [q] * 6
    queries = Descriptors(np.asarray(ids), np.tile(np.stack([np.arange(6), np.arange(6) + 1], 1), (6, 1)).astype(np.float32),
                          np.concatenate(rows).astype(np.float32))
    groups, where = threshold_groups(None, sorted(set(refs.video_ids)), sorted(set(ids)))
    assert where == "each half of the references" and len(groups) == 2
    localizer = TnLocalizer(TnParams(min_length=2, min_sim=0.1))
    chosen = held_out_thresholds(queries, refs, set(copies.items()), groups, 1.0, {"tn": localizer}, 100, 5, 3)["tn"]
    assert chosen.recall == 1.0 and chosen.precision == 1.0 and chosen.positives == 4
