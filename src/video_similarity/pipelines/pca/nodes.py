"""Fit the PCA that turns an ensemble's concatenated embeddings into <= 512-d descriptors."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
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
    whitening_power: float = 0.25  # component scale variance^-power: 0 none, 0.5 full whitening (unit variance)
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

    Whitening spreads the descriptors over the sphere instead of letting a few
    dominant directions carry every similarity, which is what score
    normalisation's noise bank assumes. Full whitening (power 0.5) also blows up
    the smallest components, whose variance a small training set estimates
    worst; the default 0.25 goes half way (see docs/vsc_descriptor.md).
    """
    config = PcaParams.from_params(params)
    if not config.enabled:
        return NoProjection()
    archives = frame_archives.archives(video_index, config.split, "reference")
    if not archives:
        raise ValueError(f"pca: no reference frame archives in split {config.split!r}")
    training = embed_with_ensemble(ensemble_members, archives, embedding_dir.path, "pca_training", config.batch_size, launch_params)
    return fit_descriptor_pca(training.features, config)


def fit_descriptor_pca(features, params: PcaParams | dict) -> "DescriptorPCA":
    """PCA to min(dim, 512, D, N) components, each scaled by its variance to the power -whitening_power."""
    if isinstance(params, dict):
        params = PcaParams.from_params(params)
    if not 0 <= params.whitening_power <= 0.5:
        raise ValueError(f"pca.whitening_power is {params.whitening_power}: it must lie in [0, 0.5] (0 none, 0.5 full whitening)")
    n, d = features.shape
    dim = min(params.dim, 512, d, n)
    pca = PCA(n_components=dim, random_state=0).fit(features)
    log.info(
        "PCA %d -> %d dims on %d training-reference frames (%.1f%% variance kept), whitening power %g",
        d, dim, n, 100 * pca.explained_variance_ratio_.sum(), params.whitening_power,
    )
    return DescriptorPCA(pca, params.whitening_power)


class DescriptorPCA:
    """A fitted PCA whose components are scaled by variance^-power (power 0.5: sklearn's ``whiten``)."""

    def __init__(self, pca: PCA, power: float):
        self.pca, self.power = pca, float(power)
        self.scale = np.maximum(pca.explained_variance_, 1e-12) ** -self.power

    @property
    def n_components_(self) -> int:
        return int(self.pca.n_components_)

    def transform(self, features: np.ndarray) -> np.ndarray:
        return (self.pca.transform(features) * self.scale).astype(np.float32)
