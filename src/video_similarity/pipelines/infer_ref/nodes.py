"""Reference-side inference: descriptors of the evaluated split, the noise bank of another split, the reference submission."""

from __future__ import annotations

import pandas as pd

from video_similarity.datasets.directory import Directory
from video_similarity.datasets.frame_archives import FrameArchiveStore
from video_similarity.descriptors import Descriptors, select
from video_similarity.pipelines.infer_ref.params import InferenceParams
from video_similarity.vsc.ensemble import embed_with_ensemble, project
from video_similarity.params import SearchIndexParams
from video_similarity.search_index import build_index
from video_similarity.vsc.settings import DescriptorSettings
from video_similarity.vsc.submission import reference_submission


def infer_references(
    ensemble_members: dict,
    descriptor_settings: dict,
    pca_model,
    frame_archives: FrameArchiveStore,
    video_index: pd.DataFrame,
    embedding_dir: Directory,
    params: dict,
    launch_params: dict,
) -> tuple[Descriptors, Descriptors]:
    """One descriptor per second of every reference of ``params.split`` and of ``params.noise_split``."""
    config = InferenceParams.from_params(params)
    refs = frame_archives.archives(video_index, config.split, "reference")
    noise = frame_archives.archives(video_index, config.noise_split, "reference")
    if not refs or not noise:
        raise ValueError(f"infer_ref: need reference archives in splits {config.split!r} and {config.noise_split!r}")
    settings = DescriptorSettings.from_dict(descriptor_settings)
    both = embed_with_ensemble(ensemble_members, settings, {**refs, **noise}, embedding_dir.path, "references", config.batch_size, launch_params)
    both = project(both, pca_model)
    return select(both, refs), select(both, noise)


def make_reference_submission(reference_embeddings: Descriptors, noise_bank: Descriptors) -> Descriptors:
    """The official ``reference_descriptors.npz``: score-normalised references (they need only the noise bank)."""
    return reference_submission(reference_embeddings, noise_bank)


def build_reference_index(reference_descriptors: Descriptors, search_index: dict):
    """The faiss index over the submitted reference descriptors, of the kind ``params:search_index`` names."""
    return build_index(reference_descriptors.features, SearchIndexParams.from_params(search_index), progress=True)
