"""VSC-2022 descriptor track micro-average precision (uAP), as the official evaluator computes it.

The candidate generation (global radius search with a pruned radius, K = 1200 per query video,
max-aggregated to M = 25 pairs per query video) and the tie-aware AP follow the project's
evaluation spec (section 1) step by step, because published uAP numbers depend on its quirks
(batch sizes, strict radius, ties dropped at the cut).

Command line::

    python -m video_similarity.metrics.vsc --query Q.npz --reference R.npz --ground-truth GT.csv
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Collection, Iterator

import numpy as np
import pandas as pd

from video_similarity.descriptors import Descriptors, SubmissionError, load_descriptors
from video_similarity.errors import read_csv_named
from video_similarity.params import SearchIndexParams
from video_similarity.search_index import index_for_search, range_top_k

RETRIEVAL_PER_QUERY = 1200  # K per query video: about 20 neighbours for a 60 s video
CANDIDATES_PER_QUERY = 25  # M per query video
INITIAL_RADIUS = -1e10
FIRST_BATCH = 32
BATCH_CAP = 20000  # the batch doubles while it is below this (so it ends at 32768)

Pairs = set[tuple[str, str]]
CANDIDATE_COLUMNS = ["query_id", "ref_id", "score"]


def query_batches(n: int, first: int = FIRST_BATCH, cap: int = BATCH_CAP) -> Iterator[slice]:
    """Row slices of 32, 64, 128, ... rows: the batch doubles after each step while < ``cap``."""
    start, size = 0, first
    while start < n:
        stop = min(start + size, n)
        yield slice(start, stop)
        if size < cap:
            size *= 2
        start = stop


def global_radius_search(
    query_features: np.ndarray, reference_features: np.ndarray, k: int, search: SearchIndexParams | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Kept (query row, reference row, score) triples, the best ``k`` by the spec's rule.

    Inner products strictly above a radius that starts at -1e10 and, whenever more than 2k
    triples are kept, becomes the (k+1)-th largest kept score (dropping everything <= it),
    query rows walked in the spec's doubling batches. Output is sorted by score descending
    (ties in query-row, reference-row order) and cut to ``k``: ties at the radius can leave
    fewer than ``k``, which is the official rule. ``search`` chooses the index (exact, the
    evaluator's, unless it says otherwise).
    """
    xq = np.ascontiguousarray(query_features, dtype=np.float32)
    empty = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32))
    if k <= 0 or len(xq) == 0 or len(reference_features) == 0:
        return empty
    if xq.ndim != 2 or reference_features.ndim != 2 or xq.shape[1] != reference_features.shape[1]:
        raise ValueError(f"query features {xq.shape} and reference features {reference_features.shape} differ")
    index = index_for_search(reference_features, len(xq), search)
    qrows, refs, scores = range_top_k(index, (xq[rows] for rows in query_batches(len(xq))), k)
    order = np.lexsort((refs, qrows, -scores))[:k]
    return qrows[order], refs[order], scores[order]


def knn_candidates(
    query: Descriptors,
    reference: Descriptors,
    *,
    retrieval_per_query: float = RETRIEVAL_PER_QUERY,
    candidates_per_query: float = CANDIDATES_PER_QUERY,
    search: SearchIndexParams | None = None,
) -> pd.DataFrame:
    """Candidate video pairs (query_id, ref_id, score), best first, as the official evaluator.

    Q = query videos (runs of equal consecutive ids), K = int(1200 Q) kept similarities,
    pair score = max kept similarity, first M = int(25 Q) pairs after a stable sort.
    """
    n_query_videos = len(query.video_groups())
    k = int(retrieval_per_query * n_query_videos)
    m = int(candidates_per_query * n_query_videos)
    if query.dim != reference.dim and len(query) and len(reference):
        raise ValueError(f"query dimension {query.dim} != reference dimension {reference.dim}")
    qrows, rrows, scores = global_radius_search(query.features, reference.features, k, search)

    q_names, q_codes = np.unique(query.video_ids, return_inverse=True)
    r_names, r_codes = np.unique(reference.video_ids, return_inverse=True)
    qc, rc = q_codes.ravel()[qrows], r_codes.ravel()[rrows]
    # Triples are sorted by score, so a pair's first triple holds its max score, and pairs of
    # equal max keep the order of those first triples, as the evaluator's dict + stable sort.
    _, first = np.unique(qc.astype(np.int64) * max(len(r_names), 1) + rc, return_index=True)
    first = np.sort(first)[:m]
    return pd.DataFrame(
        {
            "query_id": q_names[qc[first]].astype(object),
            "ref_id": r_names[rc[first]].astype(object),
            "score": scores[first].astype(np.float64),
        },
        columns=CANDIDATE_COLUMNS,
    )


def ground_truth_pairs(df: pd.DataFrame) -> Pairs:
    """Unique (query_id, ref_id) pairs of a ground-truth table; rows with a blank ref_id skipped."""
    missing = [c for c in ("query_id", "ref_id") if c not in df.columns]
    if missing:
        raise ValueError(f"ground truth lacks column(s) {missing}; has {list(df.columns)}")
    pairs = df[["query_id", "ref_id"]].dropna()
    return {(str(q), str(r)) for q, r in pairs.itertuples(index=False, name=None)}


def read_ground_truth(path: str | os.PathLike) -> Pairs:
    """Positive pairs from a matching CSV (query_id,ref_id,query_start,...) or a pairs CSV; a bad file is named."""
    df = read_csv_named(path, "a CSV with query_id,ref_id,...", dtype={"query_id": str, "ref_id": str})
    try:
        pairs = ground_truth_pairs(df)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
    if not pairs:
        raise ValueError(f"{path}: the ground truth has no (query_id, ref_id) pair (a header only?)")
    return pairs


def _labelled_scores(candidates: pd.DataFrame, positives: Collection) -> tuple:
    """Scores sorted descending with their 0/1 labels; checks the inputs as the evaluator does."""
    missing = [c for c in CANDIDATE_COLUMNS if c not in candidates.columns]
    if missing:
        raise ValueError(f"candidates lack column(s) {missing}")
    if len(positives) == 0:
        raise ValueError("the ground truth has no positive pairs")
    scores = candidates["score"].to_numpy(dtype=np.float64)
    if not np.isfinite(scores).all():
        raise ValueError("Scores must be finite.")
    keys = list(zip(candidates["query_id"].astype(str), candidates["ref_id"].astype(str)))
    if len(set(keys)) != len(keys):
        raise ValueError("duplicate (query_id, ref_id) pairs in candidates")
    positives = {(str(q), str(r)) for q, r in positives}
    labels = np.fromiter((key in positives for key in keys), dtype=np.float64, count=len(keys))
    order = np.argsort(-scores, kind="stable")
    return scores[order], labels[order], len(positives)


def _threshold_counts(scores: np.ndarray, labels: np.ndarray) -> tuple:
    """True positives and predictions at each distinct score, scores descending: ties are a step."""
    last = np.r_[np.flatnonzero(np.diff(scores) != 0), len(scores) - 1]
    return np.cumsum(labels)[last], (last + 1).astype(np.float64), scores[last]


def micro_average_precision(candidates: pd.DataFrame, positives: Collection) -> float:
    """uAP: tie-aware AP over the candidates times (true positives found / N_pos).

    Equal scores form a single step (scikit-learn ``average_precision_score``), then the AP is
    rescaled so that positives never retrieved count as misses.
    """
    scores, labels, n_pos = _labelled_scores(candidates, positives)
    if len(scores) == 0 or labels.sum() == 0:
        return 0.0
    tp, n, _ = _threshold_counts(scores, labels)
    precision = np.r_[(tp / n)[::-1], 1.0]
    recall = np.r_[(tp / tp[-1])[::-1], 0.0]
    unadjusted = max(0.0, float(-np.sum(np.diff(recall) * precision[:-1])))
    return unadjusted * (int(tp[-1]) / n_pos)


def precision_recall_curve(
    candidates: pd.DataFrame, positives: Collection
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(precision, recall, thresholds) per distinct score, best first; recall is over N_pos."""
    scores, labels, n_pos = _labelled_scores(candidates, positives)
    if len(scores) == 0:
        return np.zeros(0), np.zeros(0), np.zeros(0)
    tp, n, thresholds = _threshold_counts(scores, labels)
    return tp / n, tp / n_pos, thresholds


def evaluate(
    query: Descriptors,
    reference: Descriptors,
    positives: Collection | pd.DataFrame | str | os.PathLike,
    return_candidates: bool = False,
) -> dict | tuple[dict, pd.DataFrame]:
    """Search, aggregate and score one query/reference pair of descriptor sets.

    The one scoring path: the ``evaluate`` pipeline stage and the command line
    both call this, so their figures and key names cannot diverge. With
    ``return_candidates`` the scored (query, reference, score) rows come back
    too (for PR curves and per-edit tables).
    """
    if isinstance(positives, pd.DataFrame):
        positives = ground_truth_pairs(positives)
    elif isinstance(positives, (str, os.PathLike)):
        positives = read_ground_truth(positives)
    start = time.perf_counter()
    candidates = knn_candidates(query, reference)
    search_seconds = time.perf_counter() - start
    pos = {(str(q), str(r)) for q, r in positives}
    found = sum((q, r) in pos for q, r in zip(candidates["query_id"], candidates["ref_id"]))
    metrics = {
        "uAP": round(float(micro_average_precision(candidates, pos)), 6),
        "query_videos": len(query.video_groups()),
        "reference_videos": len(reference.video_groups()),
        "query_descriptors": int(len(query.features)),
        "reference_descriptors": int(len(reference.features)),
        "dim": int(query.features.shape[1]) if query.features.ndim == 2 else 0,
        "candidates": int(len(candidates)),
        "positives": len(pos),
        "positives_retrieved": int(found),
        "search_seconds": round(search_seconds, 3),
    }
    return (metrics, candidates) if return_candidates else metrics


def _check_consistent(d: Descriptors, side: str) -> None:
    """What even ``--no-validate`` refuses: rows the evaluator cannot pair up, or NaN / inf features."""
    n = len(d.video_ids)
    ts = d.timestamps
    if d.features.ndim != 2 or len(d.features) != n or ts.ndim == 0 or len(ts) != n:
        raise SubmissionError(f"{side}: video_ids, timestamps and features must have equal length (and features be 2-D); got "
                              f"{n}, {ts.shape[0] if ts.ndim else 'scalar'}, {d.features.shape}")
    if d.features.dtype.kind != "f" or not np.isfinite(d.features).all():
        raise SubmissionError(f"{side}: features must be finite floats (NaN / inf or {d.features.dtype} found)")


def main(argv: list[str] | None = None) -> int:
    """CLI: print ``uAP: x.xxxxxx``; a file that breaks the challenge's rules, or is unreadable, exits with status 2."""
    from video_similarity.descriptors import validate_submission

    parser = argparse.ArgumentParser(
        prog="python -m video_similarity.metrics.vsc",
        description="VSC-2022 descriptor track uAP, computed as the official evaluator. The submission is first "
        "checked by the challenge's rules (the evaluate stage's validator).",
    )
    parser.add_argument("--query", required=True, help="query descriptors .npz")
    parser.add_argument("--reference", required=True, help="reference descriptors .npz")
    parser.add_argument("--ground-truth", required=True, help="ground-truth CSV (matches or pairs)")
    parser.add_argument("--no-validate", action="store_true",
                        help="research use: skip the challenge's rules (dtype, D <= 512, sorted ids), still refuse NaN and unequal lengths")
    args = parser.parse_args(argv)
    try:
        query = load_descriptors(args.query)
        reference = load_descriptors(args.reference)
        for d, side, path in ((query, "query", args.query), (reference, "reference", args.reference)):
            try:
                _check_consistent(d, side)
            except SubmissionError as exc:
                raise SubmissionError(f"{path}: {exc}") from None
        if not args.no_validate:
            try:
                validate_submission(query, reference)
            except SubmissionError as exc:  # "query: ..." -> "<file> (query): ..."
                message = str(exc)
                for side, path in (("query", args.query), ("reference", args.reference)):
                    if message.startswith(f"{side}:"):
                        message = f"{path} ({side}){message[len(side):]}"
                raise SubmissionError(message) from None
        positives = read_ground_truth(args.ground_truth)
        result = evaluate(query, reference, positives)
    except (OSError, ValueError) as exc:  # SubmissionError and CSV errors are ValueErrors
        parser.error(str(exc))  # exits 2
    print(f"uAP: {result['uAP']:.6f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
