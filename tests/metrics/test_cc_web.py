"""CC_WEB_VIDEO mAP: the four variants of the spec (section 5) on hand-computed cases, the
perfect-system check on the real metadata, agreement with a plain loop, and the CLI."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from video_similarity.metrics.cc_web import (
    POSITIVE_LABELS,
    VARIANTS,
    CCWebGroundTruth,
    evaluate_cc_web,
    load_ground_truth,
    main,
)

DATASETS = Path(os.environ.get("VIDEO_SIMILARITY_DATASETS", "/work/shared/datasets"))
CC_WEB_JSON = DATASETS / "cc_web_video" / "cc_web_video.json"
needs_cc_web = pytest.mark.skipif(not CC_WEB_JSON.exists(), reason=f"{CC_WEB_JSON} not found")

# Two query sets. Set 0: q1 (E), a (S), b (L), e (V, excluded), x (X: negative).
# Set 1: q2 (E), c (M), a (x: negative). u is in the index but annotated in neither set.
GT_DICT = {
    "queries": ["1/q1", "2/q2"],
    "index": {"1/q1": 1, "1/a": 2, "1/b": 3, "1/x": 4, "2/q2": 5, "2/c": 6, "u": 7, "1/e": 8},
    "ground_truth": [
        {"1": "E", "2": "S", "3": "L", "4": "X", "8": "V"},
        {"5": "E", "6": "M", "2": "x"},
    ],
    "excluded": [[8], []],
}
# The walk of q1: u, q1, x, e, a, (zzz: not in the index), b, c
Q1_RESULTS = {
    "u": 0.95, "1/q1": 0.9, "1/x": 0.8, "1/e": 0.7, "1/a": 0.6, "zzz": 0.55, "1/b": 0.5, "2/c": 0.4,
}  # fmt: skip
# Set 0 has P = 4 positives (q1, a, b, e), P = 3 when clean (e excluded).
# cc_web (annotated in set 0 only: u, c skipped; zzz ignored):
#   q1 r1 hit1 1/1, x r2, e r3 hit2 2/3, a r4 hit3 3/4, b r5 hit4 4/5
#   -> (1 + 2/3 + 3/4 + 4/5) / 4 = (60 + 40 + 45 + 48) / 60 / 4 = 193/240
# cc_web_star (every returned index video takes a rank):
#   u r1, q1 r2 hit1 1/2, x r3, e r4 hit2 2/4, a r5 hit3 3/5, b r6 hit4 4/6, c r7
#   -> (1/2 + 1/2 + 3/5 + 2/3) / 4 = (15 + 15 + 18 + 20) / 30 / 4 = 17/30
# cc_web_c (annotated, e skipped and takes no rank):
#   q1 r1 1/1, x r2, a r3 2/3, b r4 3/4 -> (1 + 2/3 + 3/4) / 3 = (12 + 8 + 9) / 12 / 3 = 29/36
# cc_web_star_c: u r1, q1 r2 1/2, x r3, a r4 2/4, b r5 3/5, c r6 -> (1/2 + 1/2 + 3/5) / 3 = 8/15
Q1_EXPECTED = {
    "cc_web": 193 / 240, "cc_web_star": 17 / 30, "cc_web_c": 29 / 36, "cc_web_star_c": 8 / 15,
}  # fmt: skip


@pytest.fixture
def gt() -> CCWebGroundTruth:
    return CCWebGroundTruth(**GT_DICT)


def test_ground_truth_is_normalised_to_integer_ids(gt):
    assert gt.queries == ("1/q1", "2/q2")
    assert gt.ground_truth[0][8] == "V" and gt.excluded[0] == frozenset({8})
    assert gt.video_ids[6] == "2/c"
    assert gt.positives(0) == {1, 2, 3, 8} and gt.positives(0, clean=True) == {1, 2, 3}
    assert gt.positives(1) == {5, 6}  # a is labelled lower-case x in set 1: a negative
    assert POSITIVE_LABELS == frozenset("ESLMV")
    assert list(VARIANTS) == ["cc_web", "cc_web_star", "cc_web_c", "cc_web_star_c"]


def test_four_variants_by_hand(gt):
    result = evaluate_cc_web({"1/q1": Q1_RESULTS}, gt)
    for name, expected in Q1_EXPECTED.items():
        assert result[name] == pytest.approx(expected, abs=1e-15), name
    assert result["cc_web"] != result["cc_web_star"]  # unannotated u and c only count for *
    assert result["n_queries"] == 1
    assert result["queries_missing_from_results"] == ["2/q2"]
    assert result["unknown_ids_ignored"] == 1  # zzz


def test_mean_over_queries_present(gt):
    # q2: q2 r1 hit1 1/1, a (x in set 1) r2, c r3 hit2 2/3 -> (1 + 2/3) / 2 = 5/6 in every variant
    q2 = {"2/q2": 1.0, "1/a": 0.9, "2/c": 0.8}
    result = evaluate_cc_web({"1/q1": Q1_RESULTS, "2/q2": q2, "not-a-query": {"u": 1.0}}, gt)
    for name, expected in Q1_EXPECTED.items():
        assert result[name] == pytest.approx((expected + 5 / 6) / 2, abs=1e-15), name
    assert result["n_queries"] == 2 and result["queries_missing_from_results"] == []


def test_query_itself_is_not_skipped(gt):
    # q2 returned first takes rank 1: (1/1 + 2/2) / 2 = 1; skipping it would give (1/1) / 2
    result = evaluate_cc_web({"2/q2": {"2/q2": 1.0, "2/c": 0.5}}, gt)
    assert result["cc_web"] == 1.0 and result["cc_web_star"] == 1.0


def test_positives_not_returned_stay_in_the_denominator(gt):
    result = evaluate_cc_web({"2/q2": {"2/q2": 1.0}}, gt)
    assert result["cc_web"] == 0.5  # P = 2 (q2, c); one hit at rank 1 -> (1/1) / 2


def test_ties_keep_the_insertion_order_of_the_results(gt):
    # set 1: a (negative) and c tie; the dict order decides the rank
    first = evaluate_cc_web({"2/q2": {"2/q2": 1.0, "1/a": 0.5, "2/c": 0.5}}, gt)
    second = evaluate_cc_web({"2/q2": {"2/q2": 1.0, "2/c": 0.5, "1/a": 0.5}}, gt)
    assert first["cc_web"] == pytest.approx(5 / 6)  # c at rank 3: (1 + 2/3) / 2
    assert second["cc_web"] == 1.0  # c at rank 2: (1 + 2/2) / 2


def test_clean_skips_excluded_even_when_unannotated():
    # set 0 excludes u, which it does not annotate: only the * walk meets u, and clean skips it
    data = dict(GT_DICT, excluded=[[7], []])
    gt = CCWebGroundTruth(**data)
    result = evaluate_cc_web({"2/q2": {}, "1/q1": {"u": 0.9, "1/q1": 0.8}}, gt)
    # set 0 P = 4 (nothing positive excluded); set 1 returned nothing -> AP 0
    # cc_web_star: u r1, q1 r2 -> (1/2) / 4 = 1/8; mean over 2 queries = 1/16
    # cc_web_star_c: u skipped, q1 r1 -> (1/1) / 4 = 1/4; mean = 1/8
    assert result["cc_web_star"] == pytest.approx(1 / 16)
    assert result["cc_web_star_c"] == pytest.approx(1 / 8)
    assert result["cc_web"] == result["cc_web_c"] == pytest.approx(1 / 8)


def test_no_query_in_results_is_an_error(gt):
    with pytest.raises(ValueError, match="none of the dataset's queries"):
        evaluate_cc_web({"u": {"u": 1.0}}, gt)


@pytest.mark.parametrize(
    "change, problem",
    [
        ({"queries": ["1/q1"]}, "one per query set"),
        ({"excluded": [[1, 2, 3, 8], []]}, "no positive left after exclusion"),
        ({"index": {"a": 1, "b": 1}}, "same integer id"),
        ({"ground_truth": [{"one": "E"}, {"5": "E"}]}, "not an integer video id"),
        ({"excluded": ["8", []]}, "list of integer ids"),
    ],
)
def test_inconsistent_ground_truth_is_rejected(change, problem):
    with pytest.raises(ValueError, match=problem):
        CCWebGroundTruth(**dict(GT_DICT, **change))


def reference_map(similarities: dict, gt: CCWebGroundTruth, all_videos: bool, clean: bool) -> float:
    """The spec's mAP as a plain running sum (the published evaluator's loop)."""
    total = 0.0
    for i, labels in enumerate(gt.ground_truth):
        query = gt.queries[i]
        if query not in similarities:
            continue
        res = similarities[query]
        hits, rank, s = 0.0, 0.0, 0.0
        for video_id in sorted(res, key=lambda v: res[v], reverse=True):
            video = gt.index[video_id]
            if (all_videos or video in labels) and (not clean or video not in gt.excluded[i]):
                rank += 1
                if video in labels and labels[video] in "ESLMV":
                    hits += 1.0
                    s += hits / rank
        left_out = gt.excluded[i] if clean else ()
        n_pos = sum(1.0 for k, v in labels.items() if v in "ESLMV" and k not in left_out)
        total += s / n_pos
    return total / len(set(gt.queries) & set(similarities))


@pytest.mark.parametrize("seed", range(4))
def test_matches_a_plain_running_sum_bit_for_bit(seed):
    rng = random.Random(seed)
    n_sets, n_videos = 5, 400
    index = {f"v{i}": i for i in range(n_videos)}
    labels = "ESLMVXx"
    ground_truth, excluded = [], []
    for _ in range(n_sets):
        annotated = rng.sample(range(n_videos), 120)
        ground_truth.append({v: rng.choice(labels) for v in annotated})
        ground_truth[-1][annotated[0]] = "E"
        excluded.append(rng.sample(range(1, n_videos), 15))
    queries = [f"v{next(iter(g))}" for g in ground_truth]
    gt = CCWebGroundTruth(
        queries=queries, index=index, ground_truth=ground_truth, excluded=excluded
    )
    sims = {q: {v: rng.randint(0, 30) / 8 for v in rng.sample(list(index), 300)} for q in queries}
    del sims[queries[-1]]  # one query missing from the results
    result = evaluate_cc_web(sims, gt)
    for name, (all_videos, clean) in VARIANTS.items():
        assert result[name] == reference_map(sims, gt, all_videos, clean), name  # exact


# --- the real CC_WEB_VIDEO metadata -------------------------------------------------------


@needs_cc_web
def test_perfect_system_on_cc_web_video():
    gt = load_ground_truth(CC_WEB_JSON)
    assert len(gt.queries) == 24 and len(gt.index) == 13115
    # every set's positives scored 1, everything else in the index 0
    sims = {}
    for i, query in enumerate(gt.queries):
        pos = {v for v, label in gt.ground_truth[i].items() if label in "ESLMV"}
        sims[query] = {name: 1.0 if v in pos else 0.0 for name, v in gt.index.items()}
    result = evaluate_cc_web(sims, gt)
    # independently: positives come first in every walk, so AP_i = (P_i - m_i) / P_i with m_i
    # the positives that are not in the index (never returned)
    in_index = set(gt.index.values())
    for name, (_, clean) in VARIANTS.items():
        aps = []
        for i, labels in enumerate(gt.ground_truth):
            pos = {v for v, lab in labels.items() if lab in "ESLMV"}
            if clean:
                pos -= set(gt.excluded[i])
            aps.append(len(pos & in_index) / len(pos))
        assert result[name] == pytest.approx(sum(aps) / 24, abs=1e-15), name
        # one positive (id 2005 of set 4, 162 positives) is missing: 1 - 1/(24 * 162)
        assert result[name] == pytest.approx(1 - 1 / (24 * 162), abs=1e-15), name
        assert round(result[name], 6) == 0.999743
    assert result["n_queries"] == 24 and result["unknown_ids_ignored"] == 0


# --- loader and command line --------------------------------------------------------------


def test_load_ground_truth_errors_name_the_file(tmp_path):
    missing = tmp_path / "nope.json"
    with pytest.raises(FileNotFoundError, match="nope.json"):
        load_ground_truth(missing)
    bad = tmp_path / "bad.json"
    bad.write_text("{oops")
    with pytest.raises(ValueError, match=r"bad\.json.*malformed JSON"):
        load_ground_truth(bad)
    bad.write_text(json.dumps({k: v for k, v in GT_DICT.items() if k != "excluded"}))
    with pytest.raises(ValueError, match=r"bad\.json.*expected an object with keys"):
        load_ground_truth(bad)
    bad.write_text(json.dumps(dict(GT_DICT, queries=["1/q1"])))
    with pytest.raises(ValueError, match=r"bad\.json.*one per query set"):
        load_ground_truth(bad)


def write_task(tmp_path: Path) -> list[str]:
    (tmp_path / "gt.json").write_text(json.dumps(GT_DICT))
    (tmp_path / "sims.json").write_text(json.dumps({"1/q1": Q1_RESULTS}))
    return [
        "--ground-truth", str(tmp_path / "gt.json"),
        "--similarities", str(tmp_path / "sims.json"),
    ]  # fmt: skip


def test_cli_prints_metrics_json(tmp_path, capsys):
    assert main(write_task(tmp_path)) == 0
    out = json.loads(capsys.readouterr().out)
    for name, expected in Q1_EXPECTED.items():
        assert out[name] == pytest.approx(expected, abs=1e-15), name
    assert out["queries_missing_from_results"] == ["2/q2"]


def test_cli_subprocess(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "video_similarity.metrics.cc_web", *write_task(tmp_path)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["cc_web"] == pytest.approx(193 / 240)


def test_cli_bad_input_exits_2_naming_the_file(tmp_path, capsys):
    args = write_task(tmp_path)
    args[1] = str(tmp_path / "missing.json")
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "missing.json" in err and "Traceback" not in err
    (tmp_path / "nan.json").write_text('{"1/q1": {"u": NaN}}')
    with pytest.raises(SystemExit) as exc:
        main(write_task(tmp_path)[:2] + ["--similarities", str(tmp_path / "nan.json")])
    assert exc.value.code == 2
    assert "nan.json" in capsys.readouterr().err
