"""Reference-side inference: descriptors of the evaluated split and the noise bank of another split."""

from __future__ import annotations

import faiss
import pandas as pd

from video_similarity.datasets.directory import Directory
from video_similarity.datasets.frame_archives import FrameArchiveStore
from video_similarity.descriptors import Descriptors
from video_similarity.embeddings import embed_with_ensemble, project, select


def infer_references(
    descriptor_models: Directory,
    pca_model,
    frame_archives: FrameArchiveStore,
    video_index: pd.DataFrame,
    embedding_dir: Directory,
    params: dict,
    launch_params: dict,
) -> tuple[Descriptors, Descriptors]:
    """One descriptor per second of every reference of ``params.split`` and of ``params.noise_split``."""
    if params["noise_split"] == params["split"]:
        raise ValueError(
            f"inference.noise_split is {params['split']!r}, the evaluated split itself: the noise bank must come from "
            "another split's references (the official baseline refuses an overlapping noise bank)"
        )
    refs = frame_archives.archives(video_index, params["split"], "reference")
    noise = frame_archives.archives(video_index, params["noise_split"], "reference")
    if not refs or not noise:
        raise ValueError(f"infer_ref: need reference archives in splits {params['split']!r} and {params['noise_split']!r}")
    both = embed_with_ensemble(descriptor_models, {**refs, **noise}, embedding_dir.path, "references", int(params["batch_size"]), launch_params)
    both = project(both, pca_model)
    return select(both, refs), select(both, noise)


def build_reference_index(reference_embeddings: Descriptors):
    """An exact inner-product faiss index over the reference descriptors (row i = descriptor i)."""
    index = faiss.IndexFlatIP(reference_embeddings.features.shape[1])
    index.add(reference_embeddings.features)
    return index
