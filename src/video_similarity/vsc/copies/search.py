"""From a query's descriptors to its copied segments: the index's candidates, then a localiser; and the threshold on their scores.

The candidates are the official baseline's, per query video: the best
``retrieval_per_query`` (row, reference row) similarities, a pair scored by
its best one, the best ``candidates_per_query`` pairs. With an exact index they
are :func:`video_similarity.metrics.vsc.knn_candidates` of that one query (a test
holds them equal).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from video_similarity.descriptors import Descriptors
from video_similarity.metrics.vsc import CANDIDATE_COLUMNS
from video_similarity.params import SearchIndexParams
from video_similarity.vsc.localization.registry import Localizer, PairMatrices, localize_pairs


def search_candidates(index, reference_ids: np.ndarray, queries: Descriptors, retrieval_per_query: int,
                      candidates_per_query: int) -> pd.DataFrame:
    """(query_id, ref_id, score) of every query video of ``queries``, best first per query, queries in their order.

    ``index`` is a faiss inner-product index over rows whose video ids are ``reference_ids``.
    """
    frames = []
    for query_id, a, b in queries.video_groups():
        k = min(int(retrieval_per_query), int(index.ntotal))
        if k == 0:
            continue
        scores, rows = index.search(np.ascontiguousarray(queries.features[a:b], dtype=np.float32), k)
        scores, rows = scores.ravel(), rows.ravel()
        keep = rows >= 0
        scores, rows = scores[keep], rows[keep]
        best = np.argsort(-scores, kind="stable")[: int(retrieval_per_query)]
        refs, values = reference_ids[rows[best]], scores[best]
        _, first = np.unique(refs, return_index=True)  # sorted by score: a reference's first row is its best
        first = np.sort(first)[: int(candidates_per_query)]
        frames.append(pd.DataFrame({"query_id": query_id, "ref_id": refs[first].astype(object), "score": values[first].astype(np.float64)}))
    if not frames:
        return pd.DataFrame(columns=CANDIDATE_COLUMNS)
    return pd.concat(frames, ignore_index=True)[CANDIDATE_COLUMNS]


def localize_candidates(localizer: Localizer, candidates: pd.DataFrame, query_frames: Descriptors, references: Descriptors,
                        localize_per_query: int, progress: bool = False) -> pd.DataFrame:
    """The best ``localize_per_query`` candidates of each query localised; match rows, each query's best segment first."""
    top = candidates.groupby("query_id", sort=False, group_keys=False).head(int(localize_per_query))
    matches = localize_pairs(localizer, top, PairMatrices(query_frames, references), desc="localising", progress=progress)
    return matches.sort_values(["query_id", "score"], ascending=[True, False], kind="stable").reset_index(drop=True)


@dataclass(frozen=True)
class Threshold:
    """The least score of a reported match, chosen where pair-level F1 is best, and what it reached there."""

    threshold: float
    precision: float
    recall: float
    f1: float
    pairs: int  # scored (query, reference) pairs
    positives: int  # copied pairs, found or not

    def as_dict(self) -> dict:
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


def choose_threshold(matches: pd.DataFrame, positives: set[tuple[str, str]]) -> Threshold:
    """The score at which reporting a pair's best match (score >= it) gives the best F1 over ``positives``.

    A copied pair that no match names counts as missed at every threshold; on
    ties of F1 the higher threshold wins (fewer false alarms for the same F1).
    """
    if matches.empty or not positives:
        raise ValueError("choosing a match threshold needs matches and copied pairs")
    best = matches.groupby(["query_id", "ref_id"], sort=False)["score"].max().sort_values(ascending=False, kind="stable")
    labels = np.array([(str(q), str(r)) in positives for q, r in best.index], dtype=bool)
    scores = best.to_numpy(dtype=np.float64)
    tp = np.cumsum(labels)
    fp = np.cumsum(~labels)
    last = np.r_[scores[1:] != scores[:-1], True]  # cut only between distinct scores
    f1 = np.where(last, 2 * tp / (tp + fp + len(positives)), -1.0)
    k = int(np.flatnonzero(f1 == f1.max())[0])  # scores descend: the first best is the highest threshold
    return Threshold(float(scores[k]), float(tp[k] / (tp[k] + fp[k])), float(tp[k] / len(positives)), float(f1[k]), len(scores),
                     len(positives))


def held_out_thresholds(queries: Descriptors, references: Descriptors, positives: set[tuple[str, str]], groups: list[tuple[set, set]],
                        beta: float, localizers: dict[str, Localizer], retrieval_per_query: int, candidates_per_query: int,
                        localize_per_query: int, search: SearchIndexParams | None = None) -> dict[str, Threshold | None]:
    """Each localiser's threshold (None: it found nothing, or the groups hold no copy) on a split whose ground truth is known (``queries`` and ``references`` projected, not normalised).

    Each group ``(references, queries)`` is searched on its own, its noise bank
    the split's other references (as the tune stage scores a fold: the
    evaluated split's noise bank is another split); the groups' matches are
    pooled, and so are their copied pairs.
    """
    from video_similarity.search_index import index_for_search
    from video_similarity.vsc.score_norm import normalize_queries, normalize_references

    found: dict[str, list[pd.DataFrame]] = {name: [] for name in localizers}
    kept_positives: set[tuple[str, str]] = set()
    for group_refs, group_queries in groups:
        rows, noise = np.isin(references.video_ids, sorted(group_refs)), ~np.isin(references.video_ids, sorted(group_refs))
        q_rows = np.isin(queries.video_ids, sorted(group_queries))
        if not rows.any() or not noise.any() or not q_rows.any():
            continue
        refs = Descriptors(references.video_ids[rows], references.timestamps[rows],
                           normalize_references(references.features[rows], references.features[noise]))
        qs = Descriptors(queries.video_ids[q_rows], queries.timestamps[q_rows],
                         normalize_queries(queries.features[q_rows], references.features[noise], beta, search=search))
        candidates = search_candidates(index_for_search(refs.features, len(qs), search), refs.video_ids, qs, retrieval_per_query, candidates_per_query)
        for name, localizer in localizers.items():
            found[name].append(localize_candidates(localizer, candidates, qs, refs, localize_per_query))
        kept_positives |= {(q, r) for q, r in positives if q in group_queries and r in group_refs}
    chosen = {}
    for name, parts in found.items():
        matches = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
        chosen[name] = choose_threshold(matches, kept_positives) if len(matches) and kept_positives else None
    return chosen


def threshold_groups(folds, references: list[str], queries: list[str]) -> tuple[list[tuple[set, set]], str]:
    """Where the threshold is chosen: the tune stage's held-out fold (no model trained on it), else every fold, else halves."""
    if folds is not None and folds.usable:
        if folds.holdout:
            return [(set(folds.folds[0].references), set(folds.folds[0].queries))], "the held-out tuning fold"
        return [(set(f.references), set(f.queries)) for f in folds.folds], "every tuning fold (no fold is held out)"
    refs = sorted(references)
    return [(set(refs[0::2]), set(queries)), (set(refs[1::2]), set(queries))], "each half of the references"
