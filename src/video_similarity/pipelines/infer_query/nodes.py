"""Query-side inference and the submission files (score-normalised as in the spec, section 2)."""

from __future__ import annotations

import logging

import pandas as pd

from video_similarity.datasets.directory import Directory
from video_similarity.datasets.frame_archives import FrameArchiveStore
from video_similarity.descriptors import Descriptors
from video_similarity.embeddings import drop_near_duplicates, embed_with_ensemble, project, score_normalized

log = logging.getLogger(__name__)


def infer_queries(
    descriptor_models: Directory,
    pca_model,
    frame_archives: FrameArchiveStore,
    video_index: pd.DataFrame,
    embedding_dir: Directory,
    params: dict,
    launch_params: dict,
) -> Descriptors:
    """Per-second query descriptors of ``params.split`` with near-duplicate consecutive frames dropped."""
    queries = frame_archives.archives(video_index, params["split"], "query")
    if not queries:
        raise ValueError(f"infer_query: no query archives in split {params['split']!r}")
    embedded = project(embed_with_ensemble(descriptor_models, queries, embedding_dir.path, "queries", int(params["batch_size"]), launch_params), pca_model)
    kept = drop_near_duplicates(embedded, float(params["dedup_threshold"]))
    log.info("Queries: %d descriptors, %d after dropping near-duplicate consecutive frames", len(embedded.features), len(kept.features))
    return kept


def make_submission(
    query_embeddings: Descriptors, reference_embeddings: Descriptors, noise_bank: Descriptors, params: dict
) -> tuple[Descriptors, Descriptors]:
    """Score-normalised query and reference descriptors: the two official submission files."""
    return score_normalized(query_embeddings, reference_embeddings, noise_bank, float(params["beta"]))
