"""VSC uAP: the spec's check cases, ties, the search against a brute-force rule, and the CLI."""

from __future__ import annotations

import subprocess
import sys

import faiss
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score

from video_similarity.descriptors import Descriptors, save_descriptors
from video_similarity.metrics.vsc import (
    evaluate,
    ground_truth_pairs,
    knn_candidates,
    main,
    micro_average_precision,
    precision_recall_curve,
    query_batches,
    read_ground_truth,
)

GT = {("Q1", "R10"), ("Q2", "R11")}


def cands(*rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["query_id", "ref_id", "score"])


# --- micro-average precision -------------------------------------------------------------


@pytest.mark.parametrize(
    "rows, expected",
    [
        ([("Q1", "R10", 8), ("Q2", "R11", 4), ("Q99", "R99", 2)], 1.0),
        ([("Q1", "R10", 8), ("Q2", "R11", 4), ("Q99", "R99", 5)], np.mean([1, 2 / 3])),
        ([("Q1", "R10", 3), ("Q2", "R10", 2), ("Q99", "R99", 1)], 0.5),
        ([("Q1", "R10", 2), ("Q2", "R10", 3), ("Q99", "R99", 1)], 0.25),
    ],
)
def test_spec_check_cases(rows, expected):
    assert micro_average_precision(cands(*rows), GT) == pytest.approx(expected, abs=1e-15)


def test_equal_scores_form_one_step_whatever_their_order():
    rows = [("Q1", "R10", 5), ("Q99", "R99", 5), ("Q2", "R11", 1)]
    expected = 0.5 * 0.5 + 0.5 * (2 / 3)  # step 1: P=1/2 at R=1/2; step 2: P=2/3 at R=1
    assert micro_average_precision(cands(*rows), GT) == pytest.approx(expected)
    assert micro_average_precision(cands(*rows[::-1]), GT) == pytest.approx(expected)
    assert micro_average_precision(cands(rows[1], rows[0], rows[2]), GT) == pytest.approx(expected)


@pytest.mark.parametrize("seed", range(8))
def test_matches_sklearn_times_recall_factor_with_many_ties(seed):
    rng = np.random.default_rng(seed)
    n = 300
    df = pd.DataFrame(
        {
            "query_id": [f"Q{i}" for i in range(n)],
            "ref_id": [f"R{i}" for i in range(n)],
            "score": rng.integers(0, 12, size=n) / 4.0,  # ~25 rows per distinct score
        }
    )
    y = rng.random(n) < 0.3
    positives = {(f"Q{i}", f"R{i}") for i in np.flatnonzero(y)}
    positives |= {(f"Q{i}", "R_missing") for i in range(40)}  # never retrieved: misses
    expected = average_precision_score(y, df["score"]) * y.sum() / len(positives)
    assert micro_average_precision(df, positives) == pytest.approx(expected, rel=1e-12)


def test_edge_cases():
    assert micro_average_precision(cands(), GT) == 0.0
    assert micro_average_precision(cands(("Q99", "R99", 1.0)), GT) == 0.0
    with pytest.raises(ValueError, match="finite"):
        micro_average_precision(cands(("Q1", "R10", np.nan)), GT)
    with pytest.raises(ValueError, match="finite"):
        micro_average_precision(cands(("Q1", "R10", np.inf)), GT)
    with pytest.raises(ValueError, match="duplicate"):
        micro_average_precision(cands(("Q1", "R10", 1.0), ("Q1", "R10", 2.0)), GT)


def test_precision_recall_curve_steps_on_distinct_scores():
    rows = [("Q1", "R10", 5), ("Q99", "R99", 5), ("Q2", "R11", 1), ("Q3", "R3", 0.5)]
    precision, recall, thresholds = precision_recall_curve(cands(*rows), GT)
    np.testing.assert_allclose(precision, [0.5, 2 / 3, 0.5])
    np.testing.assert_allclose(recall, [0.5, 1.0, 1.0])
    np.testing.assert_allclose(thresholds, [5, 1, 0.5])


# --- ground truth --------------------------------------------------------------------------


def test_read_ground_truth_formats(tmp_path):
    matches = tmp_path / "matches.csv"
    matches.write_text(
        "query_id,ref_id,query_start,query_end,ref_start,ref_end\n"
        "Q1,R10,0,4,2,6\nQ1,R10,8,9,10,11\nQ2,R11,0,1,0,1\n"
    )
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("query_id,ref_id\nQ1,R10\nQ2,R11\nQ3,\n")  # Q3: a query without copies
    assert read_ground_truth(matches) == GT
    assert read_ground_truth(pairs) == GT
    assert ground_truth_pairs(pd.DataFrame({"query_id": ["Q1"], "ref_id": ["R10"]})) == {
        ("Q1", "R10")
    }
    bad = tmp_path / "bad.csv"
    bad.write_text("q,r\nQ1,R10\n")
    with pytest.raises(ValueError, match="bad.csv.*ref_id"):
        read_ground_truth(bad)


# --- candidate search ----------------------------------------------------------------------


def test_faiss_range_search_is_strict_and_in_reference_order():
    rng = np.random.default_rng(0)
    xb = rng.integers(-2, 3, size=(500, 6)).astype(np.float32)
    for nq in (7, 100):  # below and above faiss' BLAS threshold
        xq = rng.integers(-2, 3, size=(nq, 6)).astype(np.float32)
        index = faiss.IndexFlatIP(6)
        index.add(xb)
        sims = xq @ xb.T
        for radius in (-1e10, 0.0, 2.0):
            lims, dist, ids = index.range_search(xq, radius)
            for i in range(nq):
                got = ids[lims[i] : lims[i + 1]]
                np.testing.assert_array_equal(got, np.flatnonzero(sims[i] > radius))
                np.testing.assert_array_equal(dist[lims[i] : lims[i + 1]], sims[i, got])


def test_query_batches_double_while_below_cap():
    sizes = [s.stop - s.start for s in query_batches(100_000)]
    assert sizes[:4] == [32, 64, 128, 256]
    assert sizes[9] == 16384 and sizes[10] == 32768 and sizes[11] == 32768
    assert sum(sizes) == 100_000


def brute_force_candidates(query, reference, k_per_q=1200, m_per_q=25):
    """The spec's rule in plain Python over the full similarity matrix (the evaluator's way)."""
    ids = query.video_ids
    q_videos = sum(1 for i in range(len(ids)) if i == 0 or ids[i] != ids[i - 1])
    k, m = int(k_per_q * q_videos), int(m_per_q * q_videos)
    sims = query.features @ reference.features.T
    radius, kept, start, size = -1e10, [], 0, 32
    while start < len(sims):
        for i in range(start, min(start + size, len(sims))):
            kept += [(i, j, sims[i, j]) for j in np.flatnonzero(sims[i] > radius)]
        if len(kept) > 2 * k:
            radius = sorted((t[2] for t in kept), reverse=True)[k]
            kept = [t for t in kept if t[2] > radius]
        start += size
        size = size * 2 if size < 20000 else size
    kept = sorted(kept, key=lambda t: t[2], reverse=True)[:k]
    pairs: dict = {}
    for i, j, s in kept:
        pairs.setdefault((str(query.video_ids[i]), str(reference.video_ids[j])), []).append(s)
    scored = [(q, r, float(max(v))) for (q, r), v in pairs.items()]
    return sorted(scored, key=lambda c: c[2], reverse=True)[:m]


def integer_descriptors(rng, prefix, n_videos, n_rows, dim, low, high, scale=1.0):
    ids = np.sort(rng.choice([f"{prefix}{v:03d}" for v in range(n_videos)], size=n_rows))
    feats = (rng.integers(low, high + 1, size=(n_rows, dim)) * scale).astype(np.float32)
    return Descriptors(ids, np.arange(n_rows, dtype=np.float64), feats)


@pytest.mark.parametrize(
    "seed, nq, nr, dim, low, high, scale, kq, mq",
    [
        (0, 150, 300, 4, -1, 1, 1.0, 1200, 25),  # default K, M: pruning with massive ties
        (1, 231, 120, 6, -3, 3, 1.0, 1200, 25),  # batches 32, 64, 128, 7 (non-BLAS tail)
        (2, 60, 40, 6, -3, 3, 1.0, 3, 2),  # tiny K: many prunings, ties dropped at the cut
        (3, 90, 70, 8, -16, 16, 0.125, 5, 3),  # fractional but exact scores
    ],
)
def test_search_equals_brute_force(seed, nq, nr, dim, low, high, scale, kq, mq):
    rng = np.random.default_rng(seed)
    query = integer_descriptors(rng, "Q", 5, nq, dim, low, high, scale)
    reference = integer_descriptors(rng, "R", 9, nr, dim, low, high, scale)
    got = knn_candidates(query, reference, retrieval_per_query=kq, candidates_per_query=mq)
    expected = brute_force_candidates(query, reference, kq, mq)
    assert list(got.itertuples(index=False, name=None)) == expected
    assert got["score"].is_monotonic_decreasing


@pytest.mark.parametrize("seed", range(3))
def test_search_equals_faiss_contrib_on_float_data(seed):
    """Same triples, bit for bit, as faiss' range_search_max_results, which the evaluator calls."""
    from faiss.contrib import exhaustive_search

    from video_similarity.metrics.vsc import global_radius_search

    rng = np.random.default_rng(seed)
    xq = rng.normal(size=(700, 32)).astype(np.float32)
    xb = rng.normal(size=(2000, 32)).astype(np.float32)
    k = 2400
    index = faiss.IndexFlatIP(32)
    index.add(xb)
    _, lims, dist, ids = exhaustive_search.range_search_max_results(
        index, exhaustive_search.exponential_query_iterator(xq), -1e10,
        max_results=2 * k, min_results=k, ngpu=0,
    )  # fmt: skip
    triples = [
        (i, int(ids[j]), float(dist[j]))
        for i in range(len(xq))
        for j in range(lims[i], lims[i + 1])
    ]
    expected = sorted(triples, key=lambda t: t[2], reverse=True)[:k]
    qrows, rrows, scores = global_radius_search(xq, xb, k)
    assert list(zip(qrows.tolist(), rrows.tolist(), scores.astype(float).tolist())) == expected


def test_ties_at_the_cut_are_dropped():
    query = Descriptors(["Q1"], [0.0], np.ones((1, 1), np.float32))
    ref_feats = np.array([[3], [2], [2], [2], [2]], np.float32)
    reference = Descriptors(["R1", "R2", "R3", "R4", "R5"], np.arange(5.0), ref_feats)
    # K = 2; five results > 2K, radius = 3rd largest = 2, so only the 3 survives.
    got = knn_candidates(query, reference, retrieval_per_query=2, candidates_per_query=10)
    assert list(got.itertuples(index=False, name=None)) == [("Q1", "R1", 3.0)]


def test_pair_score_is_max_and_limited_to_m():
    rng = np.random.default_rng(5)
    query = integer_descriptors(rng, "Q", 3, 30, 4, -2, 2)
    reference = integer_descriptors(rng, "R", 50, 200, 4, -2, 2)
    got = knn_candidates(query, reference)
    n_q = len(query.video_groups())
    assert len(got) == 25 * n_q
    assert not got.duplicated(["query_id", "ref_id"]).any()
    sims = query.features @ reference.features.T
    for q, r, s in got.head(10).itertuples(index=False, name=None):
        block = sims[np.ix_(query.video_ids == q, reference.video_ids == r)]
        assert s == block.max()


# --- end to end -----------------------------------------------------------------------------


def copy_task(seed=0, n_ref=30, n_copies=12, n_distractors=6, rows=8, dim=64):
    """References are random; queries are noisy copies of some of them plus distractors."""
    rng = np.random.default_rng(seed)

    def unit(x):
        return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)

    ref_ids = np.repeat([f"R{v:05d}" for v in range(n_ref)], rows)
    ref_feats = unit(rng.normal(size=(n_ref * rows, dim)))
    copied = rng.choice(n_ref, size=n_copies, replace=False)
    q_feats, q_ids, gt = [], [], []
    for n, v in enumerate(copied):
        q_feats.append(ref_feats[v * rows : (v + 1) * rows] + 0.1 * rng.normal(size=(rows, dim)))
        q_ids += [f"Q{n:05d}"] * rows
        gt.append((f"Q{n:05d}", f"R{v:05d}"))
    for n in range(n_copies, n_copies + n_distractors):
        q_feats.append(rng.normal(size=(rows, dim)))
        q_ids += [f"Q{n:05d}"] * rows
    q_feats = unit(np.concatenate(q_feats))
    query = Descriptors(np.array(q_ids), np.arange(len(q_ids), dtype=float), q_feats)
    reference = Descriptors(ref_ids, np.arange(len(ref_ids), dtype=float), ref_feats)
    return query, reference, set(gt)


def test_noisy_copies_score_close_to_one():
    query, reference, gt = copy_task()
    result = evaluate(query, reference, gt)
    assert result["uAP"] > 0.99
    assert result["query_videos"] == 18 and result["reference_videos"] == 30
    assert result["positives"] == 12 and result["positives_retrieved"] == 12
    assert result["candidates"] == 18 * 25
    assert isinstance(result["search_seconds"], float) and result["search_seconds"] > 0  # measured, not a placeholder
    gt_df = pd.DataFrame(sorted(gt), columns=["query_id", "ref_id"])
    assert evaluate(query, reference, gt_df)["uAP"] == result["uAP"]


def write_task(tmp_path):
    query, reference, gt = copy_task()
    save_descriptors(tmp_path / "query_descriptors.npz", query)
    save_descriptors(tmp_path / "reference_descriptors.npz", reference)
    gt_df = pd.DataFrame(sorted(gt), columns=["query_id", "ref_id"])
    gt_df.to_csv(tmp_path / "gt.csv", index=False)
    return [
        "--query", str(tmp_path / "query_descriptors.npz"),
        "--reference", str(tmp_path / "reference_descriptors.npz"),
        "--ground-truth", str(tmp_path / "gt.csv"),
    ]  # fmt: skip


def test_cli_prints_uap(tmp_path):
    args = write_task(tmp_path)
    run = subprocess.run(
        [sys.executable, "-m", "video_similarity.metrics.vsc", *args],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert run.stdout == "uAP: 1.000000\n"


def test_cli_bad_input_exits_2(tmp_path, capsys):
    args = write_task(tmp_path)
    np.savez(tmp_path / "broken.npz", video_ids=np.array(["Q1"]))
    args[1] = str(tmp_path / "broken.npz")
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 2
    assert "broken.npz" in capsys.readouterr().err
    args[1] = str(tmp_path / "missing.npz")
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 2


def _cli_error(args, capsys) -> str:
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 2
    return capsys.readouterr().err.strip().splitlines()[-1]


@pytest.mark.parametrize(("change", "rule"), [
    (lambda q: Descriptors(q.video_ids, q.timestamps, q.features.astype(np.float64)), "must be float32"),
    (lambda q: Descriptors(q.video_ids, q.timestamps, np.ones((len(q), 513), np.float32)), "exceeds the limit 512"),
    (lambda q: Descriptors(q.video_ids[::-1].copy(), q.timestamps, q.features), "must be sorted"),
])
def test_cli_applies_the_submission_rules_by_default(tmp_path, capsys, change, rule):
    """The same validator as the evaluate stage: a broken rule is exit 2 with the file and the rule, no uAP."""
    args = write_task(tmp_path)
    query, _, _ = copy_task()
    save_descriptors(tmp_path / "bad.npz", change(query))
    args[1] = str(tmp_path / "bad.npz")
    line = _cli_error(args, capsys)
    assert "bad.npz (query)" in line and rule in line
    if rule == "must be float32":  # research use: the rules can be skipped, the uAP is printed
        assert main([*args, "--no-validate"]) == 0


@pytest.mark.parametrize("change", [
    lambda q: Descriptors(q.video_ids, q.timestamps, np.where(np.arange(q.features.size).reshape(q.features.shape) == 3, np.nan, q.features).astype(np.float32)),
    lambda q: Descriptors(q.video_ids[:-3], q.timestamps, q.features),
])
def test_cli_refuses_nan_and_unequal_lengths_even_without_validation(tmp_path, capsys, change):
    args = write_task(tmp_path)
    query, _, _ = copy_task()
    save_descriptors(tmp_path / "bad.npz", change(query))
    args[1] = str(tmp_path / "bad.npz")
    line = _cli_error([*args, "--no-validate"], capsys)
    assert "bad.npz" in line and ("NaN" in line or "equal length" in line)


def test_cli_names_an_unusable_npy_or_ground_truth_file(tmp_path, capsys):
    args = write_task(tmp_path)
    np.save(tmp_path / "array.npy", np.zeros((3, 4), np.float32))
    line = _cli_error([args[0], str(tmp_path / "array.npy"), *args[2:]], capsys)
    assert "array.npy" in line and "single array" in line
    for name, content in (("empty.csv", b""), ("header.csv", b"query_id,ref_id\n"), ("binary.csv", bytes(range(256)) * 4)):
        (tmp_path / name).write_bytes(content)
        line = _cli_error([*args[:5], str(tmp_path / name)], capsys)
        assert name in line
