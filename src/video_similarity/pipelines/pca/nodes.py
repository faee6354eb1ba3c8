"""Fit the PCA that turns an ensemble's concatenated embeddings into <= 512-d descriptors."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pandas as pd
from sklearn.decomposition import PCA

from video_similarity.datasets.directory import Directory
from video_similarity.datasets.frame_archives import FrameArchiveStore
from video_similarity.embeddings import NoProjection, embed_with_ensemble
from video_similarity.params import parse

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PcaParams:
    """``params:pca``."""

    split: str = "train"  # fitted on every frame of this split's references
    dim: int = 128  # at most 512 (the challenge's limit), fewer if the data has fewer frames
    whiten: bool = True  # unit variance per component
    batch_size: int = 64
    enabled: bool = True  # false: features are used as they are (PDQ hashes)

    @classmethod
    def from_params(cls, params: dict | None) -> "PcaParams":
        return parse(cls, params, "pca")


def fit_pca(
    ensemble_members: dict,
    frame_archives: FrameArchiveStore,
    video_index: pd.DataFrame,
    embedding_dir: Directory,
    params: dict,
    launch_params: dict,
):
    """PCA fitted on every frame of the training split's references (or no projection when disabled).

    With ``whiten`` every kept component gets unit variance: the descriptors then
    spread over the sphere instead of sharing one dominant direction, which is
    what score normalisation's noise bank assumes.
    """
    config = PcaParams.from_params(params)
    if not config.enabled:
        return NoProjection()
    archives = frame_archives.archives(video_index, config.split, "reference")
    if not archives:
        raise ValueError(f"pca: no reference frame archives in split {config.split!r}")
    training = embed_with_ensemble(ensemble_members, archives, embedding_dir.path, "pca_training", config.batch_size, launch_params)
    return fit_descriptor_pca(training.features, config)


def fit_descriptor_pca(features, params: PcaParams | dict) -> PCA:
    """PCA to min(dim, 512, D, N) components, optionally whitened."""
    if isinstance(params, dict):
        params = PcaParams.from_params(params)
    n, d = features.shape
    dim = min(params.dim, 512, d, n)
    pca = PCA(n_components=dim, whiten=params.whiten, random_state=0).fit(features)
    log.info(
        "PCA%s %d -> %d dims on %d training-reference frames (%.1f%% variance kept)",
        " with whitening" if params.whiten else "", d, dim, n, 100 * pca.explained_variance_ratio_.sum(),
    )
    return pca
