"""Fit the projection the descriptor settings ask for: PCA on every reference frame outside the evaluated split."""

from __future__ import annotations

import logging

import pandas as pd

from video_similarity.datasets.directory import Directory
from video_similarity.datasets.frame_archives import FrameArchiveStore
from video_similarity.pipelines.infer_ref.params import InferenceParams
from video_similarity.pipelines.pca.params import PcaParams
from video_similarity.vsc.ensemble import embed_with_ensemble
from video_similarity.vsc.projection import NoProjection, fit_pca
from video_similarity.vsc.settings import DescriptorSettings

log = logging.getLogger(__name__)


def fit_projection(
    ensemble_members: dict,
    descriptor_settings: dict,
    frame_archives: FrameArchiveStore,
    video_index: pd.DataFrame,
    embedding_dir: Directory,
    params: dict,
    inference_params: dict,
    launch_params: dict,
):
    """The settings' PCA fitted on every reference frame of every split but the evaluated one (or no projection).

    Whitening spreads the descriptors over the sphere instead of letting a few
    dominant directions carry every similarity, which is what score
    normalisation's noise bank assumes; the PCA never keeps more dimensions
    than its frames can estimate (``pca.frames_per_dim``).
    """
    settings = DescriptorSettings.from_dict(descriptor_settings)
    if settings.projection is None:
        log.info("No projection (descriptor settings: %s)", settings.source)
        return NoProjection()
    config = PcaParams.from_params(params)
    evaluated = InferenceParams.from_params(inference_params).split
    splits = sorted(set(video_index["split"]) - {evaluated})
    archives = {v: p for split in splits for v, p in frame_archives.archives(video_index, split, "reference").items()}
    if not archives:
        raise ValueError(f"pca: no reference frame archives outside the evaluated split {evaluated!r}")
    training = embed_with_ensemble(ensemble_members, settings, archives, embedding_dir.path, "pca_training", config.batch_size, launch_params)
    pca = fit_pca(training.features, settings.projection, config.frames_per_dim, config.max_frames)
    log.info("PCA %d -> %d dims on %d reference frames of split(s) %s (asked %d; at most one per %d frames), whitening power %g",
             training.features.shape[1], pca.n_components_, len(training.features), ", ".join(splits), settings.projection.dim,
             config.frames_per_dim, settings.projection.whitening_power)
    return pca
