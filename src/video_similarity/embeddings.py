"""Frame embeddings -> VSC descriptors: the ensemble's extraction, ensembling, PCA, near-duplicate dropping.

Extraction is the one extraction worker under torchrun (:mod:`video_similarity.extraction`);
everything after it is numpy and runs in the Kedro process.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from video_similarity.descriptors import Descriptors
from video_similarity.extraction import archive_videos, extract


def l2_normalize(x: np.ndarray) -> np.ndarray:
    return (x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)).astype(np.float32)


def ensemble(per_model: dict[str, Descriptors]) -> Descriptors:
    """Per-model L2, then concatenation (rows must be the same frames in the same order)."""
    names = sorted(per_model)
    first = per_model[names[0]]
    for name in names[1:]:
        if not np.array_equal(per_model[name].video_ids, first.video_ids):
            raise ValueError(f"model {name} embedded other frames than {names[0]}")
    features = np.concatenate([l2_normalize(per_model[n].features) for n in names], axis=1)
    return Descriptors(first.video_ids, first.timestamps, features)


def project(descriptors: Descriptors, pca) -> Descriptors:
    """PCA projection, then L2 (the descriptors are compared by inner product)."""
    return Descriptors(descriptors.video_ids, descriptors.timestamps, l2_normalize(pca.transform(descriptors.features)))


def drop_near_duplicates(descriptors: Descriptors, threshold: float = 0.975) -> Descriptors:
    """Drop a frame whose cosine similarity with the last kept frame of its video exceeds ``threshold``.

    The kept frame's interval is extended over the frames it stands for.
    """
    keep: list[int] = []
    ends = np.asarray(descriptors.timestamps, dtype=np.float64).copy()
    feats = l2_normalize(descriptors.features)
    for i in range(len(feats)):
        if keep and descriptors.video_ids[keep[-1]] == descriptors.video_ids[i] and float(feats[keep[-1]] @ feats[i]) > threshold:
            if ends.ndim == 2:
                ends[keep[-1], 1] = ends[i, 1]
            continue
        keep.append(i)
    index = np.asarray(keep, dtype=np.int64)
    return Descriptors(descriptors.video_ids[index], ends[index], descriptors.features[index])


def member_entries(descriptor_models) -> dict[str, dict]:
    """The trained ensemble's members as extraction entries: their TorchScript files through the registry.

    ``descriptor_models`` is the catalog's model folder (its manifest lists the files).
    """
    manifest = descriptor_models.manifest
    if not manifest or not manifest.get("models"):
        raise ValueError(f"no trained descriptor models in {descriptor_models.path}: run the train_ensemble pipeline first")
    size = int(manifest["image_size"])
    return {
        name: {"builder": "torchscript", "weights_path": entry["torchscript"], "seed": 0, "whitening_path": None,
               "options": {"input": {"input_size": size, "normalized_output": True}}}
        for name, entry in manifest["models"].items()
    }


def embed_with_ensemble(
    descriptor_models, archives: dict[str, str], cache_dir: Path, job: str, batch_size: int, launch_params: dict | None
) -> Descriptors:
    """The concatenated, per-model L2-normalised embeddings of the trained ensemble, one row per archived frame."""
    per_model = extract(member_entries(descriptor_models), archive_videos(archives), cache_dir, launch_params, batch_size, merge_job=job)
    return ensemble(per_model)


def select(descriptors: Descriptors, video_ids) -> Descriptors:
    """The rows of the given videos."""
    mask = np.isin(descriptors.video_ids, list(video_ids))
    return Descriptors(descriptors.video_ids[mask], np.asarray(descriptors.timestamps)[mask], descriptors.features[mask])


def score_normalized(query: Descriptors, reference: Descriptors, noise: Descriptors, beta: float) -> tuple[Descriptors, Descriptors]:
    """Score normalisation (spec section 2) applied to descriptor files; ids and timestamps are kept."""
    from video_similarity.search.score_norm import score_normalize

    q, r = score_normalize(query.features, reference.features, noise.features, beta=beta)
    return Descriptors(query.video_ids, query.timestamps, q), Descriptors(reference.video_ids, reference.timestamps, r)
