"""Frame embeddings -> VSC descriptors: the ensemble's extraction, ensembling, projection, score normalisation.

Extraction is the one extraction worker under torchrun (:mod:`video_similarity.extraction`);
everything after it is numpy and runs in the Kedro process.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from video_similarity.descriptors import Descriptors
from video_similarity.extraction import archive_videos, extract
from video_similarity.vsc.settings import DescriptorSettings


def l2_normalize(x: np.ndarray) -> np.ndarray:
    """Rows to unit length, computed in the input's precision, returned as float32 (the descriptor stages'
    and the video transformer's views; the similarity engine and score normalisation keep the exact
    float32 arithmetic of the evaluators they reproduce)."""
    return (x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)).astype(np.float32)


def ensemble(per_model: dict[str, Descriptors], weights: dict[str, float] | None = None) -> Descriptors:
    """Per-model L2, times the member's weight (1 unless given), then concatenation.

    Rows must be the same frames in the same order. A weight scales the
    member's share of every inner product by its square, and of the variance
    the PCA sees.
    """
    names = sorted(per_model)
    weights = weights or {}
    first = per_model[names[0]]
    for name in names[1:]:
        if not np.array_equal(per_model[name].video_ids, first.video_ids):
            raise ValueError(f"model {name} embedded other frames than {names[0]}")
    features = np.concatenate([float(weights.get(n, 1.0)) * l2_normalize(per_model[n].features) for n in names], axis=1)
    return Descriptors(first.video_ids, first.timestamps, features.astype(np.float32))


def project(descriptors: Descriptors, pca) -> Descriptors:
    """PCA projection, then L2 (the descriptors are compared by inner product)."""
    return Descriptors(descriptors.video_ids, descriptors.timestamps, l2_normalize(pca.transform(descriptors.features)))


def members_of(ensemble_members: dict, settings: DescriptorSettings | None = None) -> dict[str, dict]:
    """The extraction entries of an ensemble (``{"members": {name: entry}}``, the manifest train_ensemble writes);
    with ``settings``, only the members they use."""
    members = (ensemble_members or {}).get("members")
    if not members:
        raise ValueError("the ensemble has no members: run the train_ensemble pipeline first")
    if settings is None:
        return members
    missing = sorted(set(settings.members()) - set(members))
    if missing:
        raise ValueError(f"the descriptor settings use member(s) {missing} that the ensemble does not have ({sorted(members)}): "
                         "run the tune stage again")
    return {name: members[name] for name in settings.members()}


def embed_with_ensemble(
    ensemble_members: dict, settings: DescriptorSettings, archives: dict[str, str], cache_dir: Path, job: str, batch_size: int,
    launch_params: dict | None,
) -> Descriptors:
    """The members the settings use, each L2-normalised and weighted, concatenated: one row per archived frame."""
    per_model = extract(members_of(ensemble_members, settings), archive_videos(archives), cache_dir, launch_params, batch_size, merge_job=job)
    return ensemble(per_model, settings.members())


def select(descriptors: Descriptors, video_ids) -> Descriptors:
    """The rows of the given videos."""
    mask = np.isin(descriptors.video_ids, list(video_ids))
    return Descriptors(descriptors.video_ids[mask], np.asarray(descriptors.timestamps)[mask], descriptors.features[mask])


def reference_submission(reference: Descriptors, noise: Descriptors) -> Descriptors:
    """Score-normalised reference descriptors (spec section 2): they need only the noise bank."""
    from video_similarity.search.score_norm import normalize_references

    return Descriptors(reference.video_ids, reference.timestamps, normalize_references(reference.features, noise.features))


def query_submission(query: Descriptors, noise: Descriptors, beta: float, suppressed: set[str] | None = None) -> Descriptors:
    """Score-normalised query descriptors (spec section 2): the bias is -beta x the best noise similarity.

    A ``suppressed`` query (the video-score model's) keeps one tiny random
    descriptor whose bias is -100 (:func:`video_similarity.query_boost.suppress`).
    """
    from video_similarity.query_boost import suppress
    from video_similarity.search.score_norm import normalize_queries

    query, low = suppress(query, suppressed or set())
    return Descriptors(query.video_ids, query.timestamps, normalize_queries(query.features, noise.features, beta=beta, low_score_queries=low))
