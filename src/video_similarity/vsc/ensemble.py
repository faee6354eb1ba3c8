"""The ensemble: its members' frame embeddings (the one extraction worker under torchrun,
:mod:`video_similarity.extraction`), weighted and concatenated, then projected. Everything
after the extraction is numpy and runs in the Kedro process.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from video_similarity.descriptors import Descriptors, l2_normalize
from video_similarity.extraction import archive_videos, extract
from video_similarity.vsc.settings import DescriptorSettings


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
