"""Fit the PCA that turns the ensemble's concatenated embeddings into <= 512-d descriptors."""

from __future__ import annotations

import logging

import pandas as pd
from sklearn.decomposition import PCA

from video_similarity.datasets.directory import Directory
from video_similarity.datasets.frame_archives import FrameArchiveStore
from video_similarity.embeddings import embed_with_ensemble

log = logging.getLogger(__name__)


def fit_pca(
    descriptor_models: Directory,
    frame_archives: FrameArchiveStore,
    video_index: pd.DataFrame,
    embedding_dir: Directory,
    params: dict,
    launch_params: dict,
) -> PCA:
    """PCA fitted on every frame of the training split's references.

    With ``whiten`` every kept component gets unit variance: the descriptors then
    spread over the sphere instead of sharing one dominant direction, which is
    what score normalisation's noise bank assumes.
    """
    archives = frame_archives.archives(video_index, params["split"], "reference")
    if not archives:
        raise ValueError(f"pca: no reference frame archives in split {params['split']!r}")
    training = embed_with_ensemble(descriptor_models, archives, embedding_dir.path, "pca_training", int(params["batch_size"]), launch_params)
    return fit_descriptor_pca(training.features, params)


def fit_descriptor_pca(features, params: dict) -> PCA:
    """PCA to min(dim, 512, D, N) components, optionally whitened."""
    n, d = features.shape
    dim = min(int(params["dim"]), 512, d, n)
    whiten = bool(params.get("whiten", False))
    pca = PCA(n_components=dim, whiten=whiten, random_state=0).fit(features)
    log.info(
        "PCA%s %d -> %d dims on %d training-reference frames (%.1f%% variance kept)",
        " with whitening" if whiten else "", d, dim, n, 100 * pca.explained_variance_ratio_.sum(),
    )
    return pca
