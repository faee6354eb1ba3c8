"""The descriptor projection: PCA fitted on reference frames, components scaled by variance^-power, kept as plain arrays.

A PCA never gets more components than its fitting frames can estimate
(``frames_per_dim`` frames per dimension): with a few hundred training frames a
128-dimensional PCA whitens directions that are noise, which lost uAP on real
footage (docs/vsc_descriptor.md). The fitted projection is three arrays (mean,
components, scale), saved as ``.npz`` (:class:`video_similarity.datasets.ProjectionDataset`),
so no pickled class ties saved models to a module path.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from video_similarity.vsc.settings import PcaSettings

log = logging.getLogger(__name__)

MAX_DIM = 512  # the challenge's limit
MIN_DIM = 8  # fewer components cannot hold a copy descriptor: the tuner does not try such a PCA


@dataclass(frozen=True)
class DescriptorPCA:
    """``(x - mean) @ components.T * scale``: PCA whose components are scaled by variance^-power (0.5: sklearn's ``whiten``)."""

    mean: np.ndarray  # (D,)
    components: np.ndarray  # (d, D)
    scale: np.ndarray  # (d,)

    @property
    def n_components_(self) -> int:
        return int(self.components.shape[0])

    def transform(self, features: np.ndarray) -> np.ndarray:
        return (((features - self.mean) @ self.components.T) * self.scale).astype(np.float32)


class NoProjection:
    """No projection: ``transform`` is the identity (the settings chose none, or PDQ hashes used as they are)."""

    n_components_ = None

    def transform(self, features: np.ndarray) -> np.ndarray:
        return features


def pca_dim(settings: PcaSettings, frames: int, dim: int, frames_per_dim: int) -> int:
    """Components a PCA of ``settings`` gets from ``frames`` fitting frames of ``dim`` dimensions (at least 2: score
    normalisation replaces one dimension by its bias)."""
    return max(2, min(settings.dim, MAX_DIM, dim, frames // max(1, frames_per_dim), frames))


def fit_pca(features: np.ndarray, settings: PcaSettings, frames_per_dim: int, max_frames: int | None = None, seed: int = 0) -> DescriptorPCA:
    """PCA to :func:`pca_dim` components fitted on ``features`` (at most ``max_frames`` rows, sampled with ``seed``)."""
    from sklearn.decomposition import PCA

    features = np.asarray(features)
    if max_frames is not None and len(features) > max_frames:
        features = features[np.sort(np.random.default_rng(seed).choice(len(features), max_frames, replace=False))]
    n, d = features.shape
    dim = pca_dim(settings, n, d, frames_per_dim)
    if dim < MIN_DIM:
        log.warning("PCA to %d dimensions only: %d fitting frames support no more at one dimension per %d frames", dim, n, frames_per_dim)
    pca = PCA(n_components=min(dim, n, d), random_state=seed).fit(features)
    scale = np.maximum(pca.explained_variance_, 1e-12) ** -float(settings.whitening_power)
    log.debug("PCA %d -> %d dims on %d reference frames (asked %d, at most one per %d frames; %.1f%% variance kept), whitening power %g",
             d, dim, n, settings.dim, frames_per_dim, 100 * pca.explained_variance_ratio_.sum(), settings.whitening_power)
    return DescriptorPCA(pca.mean_.astype(np.float64), pca.components_.astype(np.float64), scale.astype(np.float64))
