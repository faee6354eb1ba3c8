"""Segment AP and pairwise uAP of the matching track: the spec's check cases, groups, and a slow reference."""

from __future__ import annotations

import itertools
from math import sqrt

import numpy as np
import pandas as pd
import pytest

from video_similarity.vsc.matches import MATCH_COLUMNS
from video_similarity.vsc.segment_ap import (
    SegmentAP,
    evaluate_matching,
    pair_scores,
    pairwise_micro_ap,
    segment_average_precision,
)

BOX = (4.0, 14.0, 10.0, 18.0)  # the spec's ground-truth box: query 4..14, reference 10..18


def table(*rows) -> pd.DataFrame:
    """Rows (query_id, ref_id, qs, qe, rs, re[, score]) as a matches frame; score 1.0 when left out."""
    rows = [row if len(row) == 7 else (*row, 1.0) for row in rows]
    return pd.DataFrame(rows, columns=MATCH_COLUMNS).astype({c: float for c in MATCH_COLUMNS[2:]})


GT = table(("Q1", "R1", *BOX))


def ap(predictions: pd.DataFrame, ground_truth: pd.DataFrame = GT) -> float:
    return segment_average_precision(ground_truth, predictions).ap


# --- the spec's check cases (section 3) ---------------------------------------------------


@pytest.mark.parametrize(
    "rows, expected",
    [
        ([("Q1", "R1", *BOX, 1.0)], 1.0),  # the exact box
        ([("Q1", "R1", 4, 9, 10, 14, 0.9), ("Q1", "R1", 9, 14, 14, 18, 0.8)], 1.0),  # split in two
        ([("Q1", "R2", *BOX, 3.0), ("Q2", "R1", *BOX, 2.0), ("Q1", "R1", *BOX, 1.0)], 1 / 3),  # wrong pairs first
        ([("Q1", "R1", 4, 14, 30, 38, 1.0)], 0.0),  # right query window, reference 30..38
        ([("Q1", "R1", 4, 24, 10, 26, 1.0)], 0.5),  # twice as long on both axes
        ([("Q1", "R1", 4, 14, 14, 22, 1.0)], 0.5),  # reference shifted to 14..22
        ([("Q1", "R1", *BOX, 0.9), ("Q1", "R1", *BOX, 0.2)], 1.0),  # the exact box again, lower
    ],
)
def test_spec_check_cases(rows, expected):
    assert ap(table(*rows)) == pytest.approx(expected, abs=1e-12)


def test_split_box_recall_grows_in_two_steps():
    result = segment_average_precision(GT, table(("Q1", "R1", 4, 9, 10, 14, 0.9), ("Q1", "R1", 9, 14, 14, 18, 0.8)))
    assert isinstance(result, SegmentAP)
    np.testing.assert_allclose(result.recalls, [0.5, 1.0])
    np.testing.assert_allclose(result.precisions, [1.0, 1.0])
    np.testing.assert_array_equal(result.scores, [0.9, 0.8])


def test_curve_records_a_point_only_where_recall_grew():
    result = segment_average_precision(GT, table(("Q1", "R2", *BOX, 3.0), ("Q1", "R1", *BOX, 2.0), ("Q1", "R1", *BOX, 1.0)))
    np.testing.assert_array_equal(result.scores, [2.0])
    np.testing.assert_allclose(result.precisions, [0.5])


# --- score groups, ground truth not overlapped, errors ------------------------------------


def test_equal_scores_form_one_group_whatever_their_order():
    right, wrong = ("Q1", "R1", *BOX, 1.0), ("Q1", "R2", *BOX, 1.0)
    # one group: intersection 10 / predicted 20 (query), 8 / 16 (reference) at full recall
    assert ap(table(right, wrong)) == pytest.approx(0.5)
    assert ap(table(wrong, right)) == pytest.approx(0.5)
    # the same predictions taken one at a time (right first) would score 1
    assert ap(table(right, (*wrong[:6], 0.5))) == pytest.approx(1.0)


def test_ground_truth_not_overlapped_counts_in_recall_only():
    gt = table(("Q1", "R1", *BOX), ("Q1", "R1", 30, 40, 40, 50))  # second box: 10 s x 10 s
    exact = ("Q1", "R1", *BOX, 2.0)
    first_recall = sqrt(10 / 20 * 8 / 18)
    assert ap(table(exact), gt) == pytest.approx(first_recall)
    # query 30..40 lies on the second box's query window but the boxes do not meet (ref 60..70):
    # that box stays out of the intersection, so recall does not move
    beside = ("Q1", "R1", 30, 40, 60, 70, 1.0)
    assert ap(table(exact, beside), gt) == pytest.approx(first_recall)
    # once a prediction does overlap it, its whole query window intersects
    touching = ("Q1", "R1", 39, 40, 49, 50, 0.5)
    result = segment_average_precision(gt, table(exact, beside, touching))
    assert result.recalls[-1] == pytest.approx(sqrt(20 / 20 * 9 / 18))


def test_boxes_that_only_touch_do_not_overlap():
    # a prediction sharing only an edge with the box has zero intersection area
    assert ap(table(("Q1", "R1", 14, 20, 10, 18, 1.0))) == 0.0


@pytest.mark.parametrize(
    "first",
    [("Q1", "R1", 5, 5, 12, 12, 2.0), ("Q1", "R1", 5, 5, 10, 18, 2.0), ("Q1", "R1", 4, 14, 12, 12, 2.0)],
)
def test_first_group_of_zero_length_is_a_clear_error(first):
    with pytest.raises(ValueError, match="zero total length"):
        ap(table(first, ("Q1", "R1", *BOX, 1.0)))


def test_ground_truth_without_length_is_an_error():
    with pytest.raises(ValueError, match="no length"):
        ap(table(("Q1", "R1", *BOX, 1.0)), table())


def test_no_predictions_scores_zero():
    result = segment_average_precision(GT, table())
    assert result.ap == 0.0 and len(result.recalls) == 0


def test_non_finite_score_is_an_error():
    with pytest.raises(ValueError, match="finite"):
        ap(table(("Q1", "R1", *BOX, float("nan"))))


# --- agreement with a slow reference -------------------------------------------------------


def reference_segment_ap(gt_rows: list[tuple], pred_rows: list[tuple]) -> float:
    """The official algorithm the obvious way: every group recomputes every pair from scratch."""

    def union(intervals):
        out = []
        for s, e in sorted(intervals):
            if out and s <= out[-1][1]:
                out[-1][1] = max(out[-1][1], e)
            else:
                out.append([s, e])
        return out

    def length(intervals):
        return sum(e - s for s, e in union(intervals))

    def intersect(a, b):
        return sum(max(0.0, min(e1, e2) - max(s1, s2)) for s1, e1 in union(a) for s2, e2 in union(b))

    def overlaps(g, p):
        return min(g[3], p[3]) - max(g[2], p[2]) > 0 and min(g[5], p[5]) - max(g[4], p[4]) > 0

    pairs = {(r[0], r[1]) for r in gt_rows}
    axes = [(2, 3), (4, 5)]
    gt_len = [sum(length([(g[a], g[b]) for g in gt_rows if (g[0], g[1]) == p]) for p in pairs) for a, b in axes]
    ranked = sorted(pred_rows, key=lambda r: -r[6])
    seen, result, previous = [], 0.0, 0.0
    for _, group in itertools.groupby(ranked, key=lambda r: r[6]):
        seen += list(group)
        inter, total = [0.0, 0.0], [0.0, 0.0]
        for p in {(r[0], r[1]) for r in seen}:
            preds = [r for r in seen if (r[0], r[1]) == p]
            gts = [g for g in gt_rows if (g[0], g[1]) == p and any(overlaps(g, r) for r in preds)]
            for k, (a, b) in enumerate(axes):
                inter[k] += intersect([(g[a], g[b]) for g in gts], [(r[a], r[b]) for r in preds])
                total[k] += length([(r[a], r[b]) for r in preds])
        recall = sqrt(inter[0] / gt_len[0] * inter[1] / gt_len[1])
        result += sqrt(inter[0] / total[0] * inter[1] / total[1]) * (recall - previous)
        previous = recall
    return result


def random_case(rng: np.random.Generator) -> tuple[list[tuple], list[tuple]]:
    pairs = [(f"Q{i % 3}", f"R{i}") for i in range(5)]
    gt, preds = [], []
    for q, r in pairs[:4]:  # the fifth pair has no ground truth
        for _ in range(rng.integers(1, 4)):  # several boxes, which may overlap each other
            qs, rs = rng.integers(0, 40), rng.integers(0, 40)
            gt.append((q, r, float(qs), float(qs + rng.integers(2, 15)), float(rs), float(rs + rng.integers(2, 15)), 1.0))
    for _ in range(rng.integers(5, 30)):
        q, r = pairs[rng.integers(len(pairs))]
        qs, rs = rng.uniform(0, 45), rng.uniform(0, 45)
        score = float(rng.integers(0, 6))  # few distinct scores: many ties
        preds.append((q, r, qs, qs + rng.uniform(0.5, 15), rs, rs + rng.uniform(0.5, 15), score))
    return gt, preds


@pytest.mark.parametrize("seed", range(20))
def test_matches_slow_reference(seed):
    gt, preds = random_case(np.random.default_rng(seed))
    assert ap(table(*preds), table(*gt)) == pytest.approx(reference_segment_ap(gt, preds), abs=1e-12)


# --- pairwise micro-AP ------------------------------------------------------------------------

PAIR_GT = table(("Q1", "R10", *BOX), ("Q1", "R10", 30, 40, 30, 40), ("Q2", "R11", *BOX))


def segments(*pair_scores_: tuple) -> pd.DataFrame:
    """Two segments per (query, ref, best score): the best one and a worse one."""
    rows = []
    for q, r, score in pair_scores_:
        rows += [(q, r, *BOX, score - 0.5), (q, r, 20, 30, 20, 30, score)]
    return table(*rows)


@pytest.mark.parametrize(
    "pairs, expected",
    [
        ([("Q1", "R10", 8), ("Q2", "R11", 4), ("Q99", "R99", 2)], 1.0),
        ([("Q1", "R10", 8), ("Q2", "R11", 4), ("Q99", "R99", 5)], np.mean([1, 2 / 3])),
        ([("Q1", "R10", 3), ("Q2", "R10", 2), ("Q99", "R99", 1)], 0.5),
        ([("Q1", "R10", 2), ("Q2", "R10", 3), ("Q99", "R99", 1)], 0.25),
    ],
)
def test_pairwise_uap_section_1_check_cases(pairs, expected):
    assert pairwise_micro_ap(PAIR_GT, segments(*pairs)) == pytest.approx(expected, abs=1e-15)


def test_pair_score_is_max_of_zero_and_best_segment():
    preds = table(("Q5", "R5", *BOX, -0.2), ("Q1", "R10", *BOX, -0.7), ("Q1", "R10", *BOX, -0.1))
    scores = pair_scores(preds)
    assert scores.values.tolist() == [["Q5", "R5", 0.0], ["Q1", "R10", 0.0]]
    # both pairs tie at 0.0: one step, precision 1/2 at recall 1/2 (without the quirk: 1/2 * 1)
    assert pairwise_micro_ap(PAIR_GT, preds) == pytest.approx(0.25)
    # a positive score still ranks above the clipped ones
    preds.loc[2, "score"] = 0.1
    assert pairwise_micro_ap(PAIR_GT, preds) == pytest.approx(0.5)


def test_evaluate_matching_reports_counts_and_curve():
    # half the box, a wrong 1 s x 1 s segment (no recall gained), the other half
    preds = table(("Q1", "R1", 4, 9, 10, 14, 0.9), ("Q7", "R7", 1, 2, 1, 2, 0.85), ("Q1", "R1", 9, 14, 14, 18, 0.8))
    gt = GT.drop(columns="score").assign(split="train")
    metrics, curve = evaluate_matching(preds, gt, return_curve=True)
    assert metrics == {
        "segment_ap": round(curve.ap, 6),
        "pairwise_uap": 1.0,
        "predictions": 3,
        "predicted_pairs": 2,
        "ground_truth_segments": 1,
        "ground_truth_pairs": 1,
    }
    assert curve.ap == pytest.approx(0.5 + 0.5 * sqrt(10 / 11 * 8 / 9))
    assert evaluate_matching(preds, gt) == metrics
