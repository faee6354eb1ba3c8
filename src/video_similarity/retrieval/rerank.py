"""Prefilter, then re-rank (Distill-and-Select, Kordopatis-Zilos et al., IJCV 2022): frame-level similarity only where it matters.

Exhaustive Chamfer over FIVR-200K is 100 queries x 23M database frames x ~100 query frames. DnS
first scores every (query, video) pair with a cheap video-level similarity, then computes the
fine-grained one only for each query's best-scored share of the database. Here the coarse score is
the cosine of mean-pooled rows (the shards' video vectors); the re-ranked videos take their
frame-level score and rank above the rest, which keep their coarse order. With the whole database
re-ranked the result is the exhaustive one.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping

import numpy as np
from tqdm.auto import tqdm

from video_similarity.metrics.similarity import DEFAULT_K, Similarities, l2_normalize, similarity_matrix
from video_similarity.retrieval.shards import FrameShards

BLOCK_ROWS = 1 << 18  # database rows decoded per block: 512 MiB as 512-d float32


def rerank_count(videos: int, fraction: float, top_n: int | None) -> int:
    """Videos re-ranked per query: the top ``fraction`` of the database, at least ``top_n`` (never more than there are)."""
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"retrieval.similarity.rerank_fraction must lie in [0, 1], got {fraction}")
    return int(min(videos, max(math.ceil(fraction * videos), top_n or 0)))


def coarse_scores(queries: Mapping[str, np.ndarray], shards: FrameShards) -> np.ndarray:
    """(queries, database videos) cosine of mean-pooled rows: the prefilter's score of every pair."""
    vectors = l2_normalize(np.stack([np.asarray(q, np.float32).mean(axis=0, dtype=np.float64) for q in queries.values()]))
    return vectors @ shards.video_vectors.T


def reranked(queries: Mapping[str, np.ndarray], shards: FrameShards, method: str, k: int, counts: list[int],
             progress: bool = True) -> Iterator[Similarities]:
    """For each of ``counts`` (videos re-ranked per query), ``{query_id: {video_id: score}}`` over the whole
    database: ``method`` for each query's first ``count`` videos by coarse score, the coarse score shifted
    below all of them for the rest. The frame-level scores are computed once, for the largest count: a
    smaller count's videos are the first of the larger's (ties in the coarse score kept in storage order)."""
    names = list(queries)
    if not names or not len(shards):
        for _ in counts:
            yield {q: {} for q in names}
        return
    coarse = coarse_scores(queries, shards)
    ranks = np.argsort(np.argsort(-coarse, axis=1, kind="stable"), axis=1)  # each video's place in its query's coarse order
    fine = _fine_scores(queries, names, shards, method, k, ranks < max(counts), progress)
    for n in counts:
        chosen = ranks < n
        out: Similarities = {}
        for qi, name in enumerate(names):
            floor = np.nanmin(fine[qi][chosen[qi]]) if chosen[qi].any() else 0.0
            row = np.where(chosen[qi], fine[qi], floor - 3.0 + coarse[qi])  # coarse lies in [-1, 1]: below every re-ranked score
            out[name] = dict(zip(shards.video_ids, row.astype(float).tolist()))
        yield out


def _fine_scores(queries: Mapping[str, np.ndarray], names: list[str], shards: FrameShards, method: str, k: int, chosen: np.ndarray,
                 progress: bool) -> np.ndarray:
    """(queries, database videos) ``method`` scores where ``chosen``, NaN elsewhere; the shards read once, a block at a time."""
    fine = np.full(chosen.shape, np.nan)
    for first, last, rows in tqdm(shards.blocks(BLOCK_ROWS), desc=f"re-ranking ({method})", unit="block", disable=not progress):
        offsets = np.concatenate([[0], np.cumsum(shards.length[first:last])])
        for qi in np.flatnonzero(chosen[:, first:last].any(axis=1)):
            picked = np.flatnonzero(chosen[qi, first:last])
            videos = {shards.video_ids[first + v]: rows[offsets[v] : offsets[v + 1]] for v in picked}
            scores = similarity_matrix({names[qi]: queries[names[qi]]}, videos, method, k=k, progress=False)[names[qi]]
            fine[qi, first + picked] = list(scores.values())
    return fine


def prefilter_rerank(queries: Mapping[str, np.ndarray], shards: FrameShards, method: str, k: int = DEFAULT_K, fraction: float = 0.05,
                     top_n: int | None = None, progress: bool = True) -> Similarities:
    """``{query_id: {video_id: score}}`` over the whole database: ``method`` (a frame-level similarity) for each query's
    re-ranked videos (:func:`rerank_count`), the coarse score shifted below all of them for the rest."""
    return next(reranked(queries, shards, method, k, [rerank_count(len(shards), fraction, top_n)], progress))
