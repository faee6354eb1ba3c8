"""Query-side inference and the query submission file (score-normalised as in the spec, section 2)."""

from __future__ import annotations

import logging

import pandas as pd

from video_similarity.datasets.directory import Directory
from video_similarity.datasets.frame_archives import FrameArchiveStore
from video_similarity.descriptors import Descriptors
from video_similarity.embeddings import drop_near_duplicates, embed_with_ensemble, project, query_submission
from video_similarity.pipelines.infer_ref.nodes import InferenceParams

log = logging.getLogger(__name__)


def infer_queries(
    ensemble_members: dict,
    pca_model,
    frame_archives: FrameArchiveStore,
    video_index: pd.DataFrame,
    embedding_dir: Directory,
    params: dict,
    launch_params: dict,
) -> Descriptors:
    """Per-second query descriptors of ``params.split`` with near-duplicate consecutive frames dropped."""
    config = InferenceParams.from_params(params)
    queries = frame_archives.archives(video_index, config.split, "query")
    if not queries:
        raise ValueError(f"infer_query: no query archives in split {config.split!r}")
    embedded = project(embed_with_ensemble(ensemble_members, queries, embedding_dir.path, "queries", config.batch_size, launch_params), pca_model)
    kept = drop_near_duplicates(embedded, config.dedup_threshold)
    log.info("Queries: %d descriptors, %d after dropping near-duplicate consecutive frames", len(embedded.features), len(kept.features))
    return kept


def make_query_submission(query_embeddings: Descriptors, noise_bank: Descriptors, params: dict) -> Descriptors:
    """The official ``query_descriptors.npz``: score-normalised queries."""
    return query_submission(query_embeddings, noise_bank, InferenceParams.from_params(params).beta)
