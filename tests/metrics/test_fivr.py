"""FIVR DSVR/CSVR/ISVR mAP: every rule of the spec (section 4) on hand-computed cases, the
FIVR-5K perfect-system check on the real lists, agreement with a plain loop, and the CLI."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from video_similarity.metrics.fivr import (
    TASKS,
    average_precision,
    evaluate_fivr,
    load_annotation,
    load_similarities,
    main,
    positives,
    read_id_list,
)

DATASETS = Path(os.environ.get("VIDEO_SIMILARITY_DATASETS", "/work/shared/datasets"))
FIVR = DATASETS / "fivr"
needs_fivr = pytest.mark.skipif(
    not (FIVR / "annotation.json").exists(), reason=f"FIVR metadata not found under {FIVR}"
)


def maps(result: dict) -> tuple:
    return result["DSVR"], result["CSVR"], result["ISVR"]


# --- positives and AP ---------------------------------------------------------------------


def test_positives_are_the_union_of_overlapping_label_lists():
    ann = {"ND": ["a", "b"], "DS": ["b", "c"], "CS": ["c", "d"], "IS": ["d", "e"], "DA": ["f"]}
    assert positives(ann, "DSVR") == {"a", "b", "c"}  # b is ND and DS: counted once
    assert positives(ann, "CSVR") == {"a", "b", "c", "d"}  # c is DS and CS: still a DSVR positive
    assert positives(ann, "ISVR") == {"a", "b", "c", "d", "e"}  # DA (audio) never counts
    assert positives({"IS": ["x"]}, "DSVR") == set()  # absent labels contribute nothing
    with pytest.raises(ValueError, match="unknown task"):
        positives(ann, "XSVR")
    assert TASKS["ISVR"] == ("ND", "DS", "CS", "IS")


def test_overlapping_labels_do_not_inflate_the_denominator():
    # b is listed under ND and DS: G = {a, b}, |G| = 2 (not 3).
    # Ranking [a, b] -> (1/1 + 2/2) / 2 = 1
    ann = {"q": {"ND": ["a", "b"], "DS": ["b"]}}
    result = evaluate_fivr({"q": {"a": 0.9, "b": 0.8}}, ann, ["q"], ["a", "b"])
    assert result["DSVR"] == 1.0


def test_average_precision_by_hand():
    # hits at ranks 2 and 4 of 3 relevant: (1/2 + 2/4) / 3 = 1/3
    assert average_precision(["x", "a", "y", "b"], {"a", "b", "c"}) == pytest.approx(1 / 3)
    assert average_precision(["a", "b"], {"a", "b"}) == 1.0
    assert average_precision(["x", "y"], {"a"}) == 0.0
    assert average_precision([], {"a"}) == 0.0
    with pytest.raises(ValueError, match="undefined"):
        average_precision(["a"], set())
    with pytest.raises(ValueError, match="repeats"):
        average_precision(["a", "a"], {"a"})


# --- evaluate_fivr: the spec's rules ------------------------------------------------------


def test_cs_and_is_are_negatives_for_dsvr_but_stay_in_the_ranking():
    ann = {"q": {"ND": ["a"], "CS": ["c"], "IS": ["i"]}}
    sims = {"q": {"c": 0.9, "i": 0.8, "a": 0.7, "n": 0.1}}  # ranking: c, i, a, n
    result = evaluate_fivr(sims, ann, ["q"], ["a", "c", "i", "n"])
    # DSVR: G = {a}; c and i push a to rank 3 -> (1/3) / 1
    # CSVR: G = {a, c}; c at rank 1 (1/1), a at rank 3 (2/3) -> (1 + 2/3) / 2 = 5/6
    # ISVR: G = {a, c, i}; ranks 1, 2, 3 -> (1 + 1 + 1) / 3 = 1
    assert maps(result) == pytest.approx((1 / 3, 5 / 6, 1.0))


def test_query_is_skipped_in_ranking_but_kept_in_ground_truth():
    # q lists itself under IS and is in the database (the FIVR-5K eCrhXArKE24 case)
    ann = {"q": {"ND": ["a"], "IS": ["q"]}}
    sims = {"q": {"q": 1.0, "a": 0.9, "n": 0.1}}  # ranking without q: a, n
    result = evaluate_fivr(sims, ann, ["q"], ["q", "a", "n"])
    # DSVR: G = {a}, a at rank 1 (not 2: q takes no rank) -> 1
    # ISVR: G = {a, q}; a at rank 1 -> 1/1; q can never be ranked -> (1) / 2 = 0.5
    assert result["DSVR"] == 1.0
    assert result["ISVR"] == 0.5


def test_positives_missing_from_results_stay_in_the_denominator():
    ann = {"q": {"ND": ["a", "b"]}}
    result = evaluate_fivr({"q": {"a": 0.9, "n": 0.5}}, ann, ["q"], ["a", "b", "n"])
    # G = {a, b}; only a returned, at rank 1 -> (1/1) / 2 = 0.5
    assert result["DSVR"] == 0.5


def test_ids_outside_all_db_are_skipped_in_ranking_and_ground_truth():
    ann = {"q": {"ND": ["a", "z"]}}  # z is not in the subset
    sims = {"q": {"x": 0.99, "z": 0.95, "a": 0.5, "n": 0.1}}  # x and z are not in all_db
    result = evaluate_fivr(sims, ann, ["q"], ["a", "n"])
    # ranking = a, n (x and z skipped); G = {a, z} n all_db = {a} -> 1/1 = 1
    # (without skipping: a at rank 3 of G = {a, z} would give (1/2 + 2/3) / 2)
    assert result["DSVR"] == 1.0
    assert result["n_all_db"] == 3  # a, n and the query q


def test_other_query_ids_are_part_of_all_db():
    # q2 is a query of the subset but not in the database: all_db = database u queries
    ann = {"q1": {"ND": ["q2"]}, "q2": {"ND": ["q1"]}}
    sims = {"q1": {"q2": 0.9, "a": 0.1}, "q2": {"a": 0.9, "q1": 0.5}}
    result = evaluate_fivr(sims, ann, ["q1", "q2"], ["a"])
    # q1: q2 at rank 1 -> 1; q2: q1 at rank 2 -> (1/2) / 1; mean (1 + 1/2) / 2 = 0.75
    assert result["DSVR"] == 0.75
    assert result["per_query"]["q2"]["DSVR"] == 0.5


def test_ties_keep_the_insertion_order_of_the_results():
    ann = {"q": {"ND": ["a"]}}
    first = evaluate_fivr({"q": {"n": 0.5, "a": 0.5}}, ann, ["q"], ["a", "n"])
    second = evaluate_fivr({"q": {"a": 0.5, "n": 0.5}}, ann, ["q"], ["a", "n"])
    assert first["DSVR"] == 0.5  # ranking n, a: a at rank 2 -> (1/2) / 1
    assert second["DSVR"] == 1.0  # ranking a, n: a at rank 1


def test_available_only_variant_shrinks_the_denominator():
    ann = {"q": {"ND": ["a", "b"]}}
    sims = {"q": {"a": 0.9, "n": 0.5}}  # b was never decoded, so it is not returned
    full = evaluate_fivr(sims, ann, ["q"], ["a", "b", "n"])
    available = evaluate_fivr(sims, ann, ["q"], ["a", "b", "n"], available={"q", "a", "n"})
    assert full["DSVR"] == 0.5  # G = {a, b}: (1/1) / 2
    assert available["DSVR"] == 1.0  # G = {a, b} n {q, a, n} = {a}: (1/1) / 1
    assert (full["all_db_convention"], full["n_all_db"]) == ("all", 4)
    assert (available["all_db_convention"], available["n_all_db"]) == ("available", 3)


def test_available_only_also_drops_undecoded_ids_from_the_ranking():
    ann = {"q": {"ND": ["a"]}}
    sims = {"q": {"b": 0.9, "a": 0.5}}  # b is in the database but not in `available`
    result = evaluate_fivr(sims, ann, ["q"], ["a", "b"], available={"a", "b"} - {"b"})
    assert result["DSVR"] == 1.0  # ranking = a only -> 1/1


def test_queries_missing_from_results_are_left_out_of_the_mean_and_listed():
    ann = {"q1": {"ND": ["a"]}, "q2": {"ND": ["a"]}, "q3": {"ND": ["a"]}}
    sims = {
        "q1": {"a": 0.9, "n": 0.1},  # AP 1
        "q2": {"n": 0.9, "a": 0.1},  # a at rank 2 -> AP 1/2
        "other": {"a": 1.0},  # not a query of the subset: ignored
    }
    result = evaluate_fivr(sims, ann, ["q1", "q2", "q3"], ["a", "n"])
    assert result["DSVR"] == 0.75  # (1 + 1/2) / 2, not / 3
    assert result["n_queries"] == 2
    assert result["queries_missing_from_results"] == ["q3"]
    assert set(result["per_query"]) == {"q1", "q2"}


def test_queries_missing_from_annotation_are_left_out_and_listed():
    ann = {"q1": {"ND": ["a"]}}
    sims = {"q1": {"a": 0.9}, "q2": {"a": 0.9}}
    result = evaluate_fivr(sims, ann, ["q1", "q2"], ["a"])
    assert result["DSVR"] == 1.0
    assert result["n_queries"] == 1
    assert result["queries_missing_from_annotation"] == ["q2"]


def test_query_without_positives_is_left_out_of_that_task_only():
    # q2 has only CS positives: no DSVR positive, so its DSVR AP is undefined (ViSiL: 0/0)
    ann = {"q1": {"ND": ["a"]}, "q2": {"CS": ["a"]}}
    sims = {"q1": {"n": 0.9, "a": 0.5}, "q2": {"a": 0.9, "n": 0.5}}
    result = evaluate_fivr(sims, ann, ["q1", "q2"], ["a", "n"])
    assert result["DSVR"] == 0.5  # q1 only: a at rank 2 -> 1/2
    assert result["CSVR"] == 0.75  # (1/2 + 1) / 2
    assert result["queries_without_positives"] == {"DSVR": ["q2"], "CSVR": [], "ISVR": []}
    assert result["per_query"]["q2"] == {"DSVR": None, "CSVR": 1.0, "ISVR": 1.0}
    # when no query has a positive for a task, that task's mAP is None
    only_q2 = evaluate_fivr({"q2": sims["q2"]}, ann, ["q2"], ["a", "n"])
    assert only_q2["DSVR"] is None and only_q2["CSVR"] == 1.0


def test_no_evaluable_query_is_an_error():
    with pytest.raises(ValueError, match="no query"):
        evaluate_fivr({"x": {"a": 1.0}}, {"q": {"ND": ["a"]}}, ["q"], ["a"])


def test_results_are_python_floats():
    result = evaluate_fivr({"q": {"a": 1}}, {"q": {"ND": ["a"]}}, ["q"], ["a"])
    assert all(type(result[task]) is float for task in TASKS)
    assert type(result["per_query"]["q"]["DSVR"]) is float


def reference_ap(res: dict, query: str, gt: set, all_db: set) -> float:
    """The spec's AP as a plain running sum (the published evaluator's loop)."""
    hits, rank, total = 0.0, 0, 0.0
    for video in sorted(res, key=lambda v: res[v], reverse=True):
        if video != query and video in all_db:
            rank += 1
            if video in gt:
                hits += 1.0
                total += hits / rank
    return total / len(gt)


@pytest.mark.parametrize("seed", range(5))
def test_matches_a_plain_running_sum_bit_for_bit(seed):
    rng = random.Random(seed)
    videos = [f"v{i}" for i in range(300)]
    queries = [f"q{i}" for i in range(6)]
    database = videos[:250] + queries[:2]  # v250.. are outside the subset
    labels = ("ND", "DS", "CS", "IS", "DA")
    pool = videos + queries
    ann = {q: {lab: rng.sample(pool, rng.randint(1, 40)) for lab in labels} for q in queries}
    in_results = rng.sample(queries, len(queries))  # results in another order than the list
    sims = {q: {v: rng.randint(0, 20) / 4 for v in rng.sample(pool, 200)} for q in in_results}
    available = set(rng.sample(database + queries, 200)) if seed % 2 else None
    result = evaluate_fivr(sims, ann, queries, database, available)
    all_db = set(database) | set(queries)
    if available is not None:
        all_db &= available
    for task in TASKS:
        aps = []
        for q in sims:  # the mean sums in the results' order
            gt = positives(ann[q], task) & all_db
            ap = reference_ap(sims[q], q, gt, all_db) if gt else None
            assert result["per_query"][q][task] == ap  # exact, not approx
            if ap is not None:
                aps.append(ap)
        assert result[task] == float(np.mean(aps))  # the evaluator's np.mean


# --- the real FIVR-5K lists ---------------------------------------------------------------


@pytest.fixture(scope="module")
def fivr5k():
    return (
        load_annotation(FIVR / "annotation.json"),
        read_id_list(FIVR / "fivr-5k-queries.txt"),
        read_id_list(FIVR / "fivr-5k-database.txt"),
    )


@needs_fivr
def test_perfect_system_on_fivr5k(fivr5k):
    ann, queries, database = fivr5k
    assert (len(queries), len(database)) == (50, 5000)
    # one file perfect for all three tasks: ND/DS 3, CS-only 2, IS-only 1, everything else 0
    sims = {}
    for q in queries:
        grade = {}
        for label, score in (("IS", 1.0), ("CS", 2.0), ("DS", 3.0), ("ND", 3.0)):
            grade.update(dict.fromkeys(ann[q].get(label, []), score))  # higher labels win
        sims[q] = {v: grade.get(v, 0.0) for v in database + queries}
    result = evaluate_fivr(sims, ann, queries, database)
    # independently: with every positive ranked first, a query's AP is 1 unless it is in its
    # own G, where it can never be ranked: then (|G| - 1) / |G|
    all_db = set(database) | set(queries)
    expected = {}
    for task, labs in TASKS.items():
        aps = []
        for q in queries:
            g = set().union(*(ann[q].get(lab, []) for lab in labs)) & all_db
            aps.append((len(g) - 1) / len(g) if q in g else 1.0)
        expected[task] = sum(aps) / len(aps)
    assert result["DSVR"] == 1.0 and result["CSVR"] == 1.0
    assert result["ISVR"] == pytest.approx(expected["ISVR"], abs=1e-15)
    # only eCrhXArKE24 lists itself (under IS), with 69 ISVR positives in FIVR-5K:
    # ISVR = (49 * 1 + 68/69) / 50 = 0.99971014...
    assert result["ISVR"] == pytest.approx((49 + 68 / 69) / 50, abs=1e-15)
    assert result["ISVR"] < 1.0
    assert result["per_query"]["eCrhXArKE24"]["ISVR"] == pytest.approx(68 / 69)
    assert result["n_queries"] == 50 and result["n_all_db"] == 5049
    assert result["queries_missing_from_results"] == []


# --- loaders ------------------------------------------------------------------------------


def test_read_id_list_strips_skips_blanks_and_takes_first_column(tmp_path):
    path = tmp_path / "ids.txt"
    path.write_text("  abc  \n\n   \ndef\tvideos/def.mp4\nghi extra columns\n")
    assert read_id_list(path) == ["abc", "def", "ghi"]


def test_loader_errors_name_the_file(tmp_path):
    missing = tmp_path / "nope.json"
    with pytest.raises(FileNotFoundError, match="nope.json"):
        load_annotation(missing)
    with pytest.raises(FileNotFoundError, match="nope.json"):
        read_id_list(missing)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match=r"bad\.json.*malformed JSON"):
        load_annotation(bad)
    for text, problem in [
        ("[]", "expected an object"),
        ('{"q": ["a"]}', "not labels"),
        ('{"q": {"ND": "a"}}', "not a list"),
        ('{"q": {"ND": [1]}}', "not a list"),
    ]:
        bad.write_text(text)
        with pytest.raises(ValueError, match=problem) as exc:
            load_annotation(bad)
        assert "bad.json" in str(exc.value)


def test_load_similarities_keeps_order_and_rejects_bad_scores(tmp_path):
    path = tmp_path / "s.json"
    path.write_text('{"q": {"b": 1, "a": 0.5, "c": 0.5}}')
    sims = load_similarities(path)
    assert list(sims["q"]) == ["b", "a", "c"] and sims["q"]["b"] == 1.0
    for text, problem in [
        ('{"q": {"a": NaN}}', "not finite"),
        ('{"q": {"a": "0.5"}}', "not a number"),
        ('{"q": {"a": true}}', "not a number"),
        ('{"q": [1]}', "not an object"),
        ("[1]", "expected an object"),
    ]:
        path.write_text(text)
        with pytest.raises(ValueError, match=problem):
            load_similarities(path)


# --- command line -------------------------------------------------------------------------


def write_task(tmp_path: Path) -> dict[str, Path]:
    """The CS/IS case above as files: DSVR 1/3, CSVR 5/6, ISVR 1."""
    files = {
        "annotation": tmp_path / "annotation.json",
        "queries": tmp_path / "queries.txt",
        "database": tmp_path / "database.txt",
        "similarities": tmp_path / "sims.json",
        "available": tmp_path / "available.txt",
    }
    files["annotation"].write_text(json.dumps({"q": {"ND": ["a"], "CS": ["c"], "IS": ["i"]}}))
    files["queries"].write_text("q\n")
    files["database"].write_text("a\nc\ni\nn\n")
    files["similarities"].write_text(json.dumps({"q": {"c": 0.9, "i": 0.8, "a": 0.7, "n": 0.1}}))
    files["available"].write_text("q\na\ni\nn\n")  # c was not decoded
    return files


def cli_args(files: dict[str, Path]) -> list[str]:
    return [
        "--annotation", str(files["annotation"]),
        "--queries", str(files["queries"]),
        "--database", str(files["database"]),
        "--similarities", str(files["similarities"]),
    ]  # fmt: skip


def test_cli_prints_metrics_json(tmp_path, capsys):
    files = write_task(tmp_path)
    assert main(cli_args(files)) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["DSVR"], out["CSVR"], out["ISVR"]) == pytest.approx((1 / 3, 5 / 6, 1.0))
    assert out["all_db_convention"] == "all" and "per_query" not in out
    assert main([*cli_args(files), "--per-query"]) == 0
    assert json.loads(capsys.readouterr().out)["per_query"]["q"]["DSVR"] == pytest.approx(1 / 3)


def test_cli_available_only(tmp_path, capsys):
    files = write_task(tmp_path)
    assert main([*cli_args(files), "--available-only", str(files["available"])]) == 0
    out = json.loads(capsys.readouterr().out)
    # c is dropped from all_db: ranking i, a, n. DSVR: a at rank 2 -> 1/2;
    # CSVR: G = {a} -> 1/2; ISVR: G = {a, i}, ranks 1, 2 -> 1
    assert (out["DSVR"], out["CSVR"], out["ISVR"]) == pytest.approx((0.5, 0.5, 1.0))
    assert out["all_db_convention"] == "available" and out["n_all_db"] == 4


def test_cli_subprocess(tmp_path):
    files = write_task(tmp_path)
    run = subprocess.run(
        [sys.executable, "-m", "video_similarity.metrics.fivr", *cli_args(files)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["CSVR"] == pytest.approx(5 / 6)


def test_cli_bad_input_exits_2_naming_the_file(tmp_path, capsys):
    files = write_task(tmp_path)
    args = cli_args(files)
    args[args.index("--similarities") + 1] = str(tmp_path / "missing.json")
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "missing.json" in err and "Traceback" not in err
    files["annotation"].write_text("{broken")
    with pytest.raises(SystemExit) as exc:
        main(cli_args(files))
    assert exc.value.code == 2
    assert "annotation.json" in capsys.readouterr().err


def test_cli_counts_result_ids_outside_the_database(tmp_path, capsys):
    files = write_task(tmp_path)
    files["similarities"].write_text(json.dumps({"q": {"c": 0.9, "zz": 0.85, "i": 0.8, "a": 0.7, "n": 0.1, "q": 1.0, "yy": 0.0}}))
    assert main(cli_args(files)) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["unknown_ids_ignored"] == 2  # zz and yy; the query itself is not counted
    assert (out["DSVR"], out["CSVR"], out["ISVR"]) == pytest.approx((1 / 3, 5 / 6, 1.0))  # and they change nothing


@pytest.mark.parametrize("text", ['{"q": {"a": ' + "9" * 400 + "}}", "[" * 100_000 + "]" * 100_000, '{"q": {"a": ' + "1" * 5000 + "}}"])
def test_json_that_floats_or_the_parser_cannot_hold_is_a_one_line_error(tmp_path, capsys, text):
    files = write_task(tmp_path)
    files["similarities"].write_text(text)
    with pytest.raises(SystemExit) as exc:
        main(cli_args(files))
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "sims.json" in err and "Traceback" not in err
