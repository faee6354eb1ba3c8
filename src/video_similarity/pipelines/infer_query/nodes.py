"""Query-side inference: scene parts, video scores, descriptors and the query submission (score-normalised as in the spec, section 2)."""

from __future__ import annotations

import logging
import math

import pandas as pd

from video_similarity.datasets.directory import Directory
from video_similarity.datasets.frame_archives import FrameArchiveStore
from video_similarity.descriptors import Descriptors
from video_similarity.pipelines.infer_query.params import SceneDetectionParams, VideoScoreParams
from video_similarity.pipelines.infer_ref.params import InferenceParams
from video_similarity.vsc.dedup import fit_budget
from video_similarity.vsc.queries import detect_scene_parts, embed_queries
from video_similarity.vsc.settings import DescriptorSettings
from video_similarity.params import SearchIndexParams
from video_similarity.vsc.submission import query_submission
from video_similarity.vsc.video_scores import score_queries

log = logging.getLogger(__name__)


def detect_query_scenes(
    frame_archives: FrameArchiveStore, video_index: pd.DataFrame, scene_part_dir: Directory, params: dict, inference_params: dict
) -> dict:
    """Frame scene detection on every query of the evaluated split: static borders cropped, stacked scenes split.

    A query whose layout is not the whole frame gets one frame archive per part
    in ``scene_part_dir`` (the one cache rule: the folder is stamped with the
    detection settings, each query's layout is an item keyed by its archive).
    Returns the manifest ``{"parts": {query: [{archive, box}]}, ...}``.
    """
    config = SceneDetectionParams.from_params(params)
    split = InferenceParams.from_params(inference_params).split
    if not config.enabled:
        log.info("Scene detection is off (scene_detection.enabled)")
        return {"enabled": False, "parts": {}}
    queries = frame_archives.archives(video_index, split, "query")
    # how parts are merged is infer_queries' business: changing it keeps the layouts
    parts, failed = detect_scene_parts(queries, scene_part_dir.path, config.thresholds())
    n_parts = sum(len(r) for r in parts.values())
    log.info("Scene detection: %d of %d queries have a layout (%d part archives)", len(parts), len(queries), n_parts)
    return {"enabled": True, "split": split, "queries": len(queries), "queries_with_parts": len(parts), "part_archives": n_parts,
            "parts_replace_frames": config.parts_replace_frames, "parts": parts, "failed": failed}


def score_query_videos(
    vid_score_model: dict,
    descriptor_settings: dict,
    frame_archives: FrameArchiveStore,
    video_index: pd.DataFrame,
    embedding_dir: Directory,
    params: dict,
    inference_params: dict,
    launch_params: dict,
) -> pd.DataFrame:
    """Every query's video score (P(it holds copied content)) and whether it is suppressed (below the settings' threshold)."""
    config = VideoScoreParams.from_params(params)
    threshold = DescriptorSettings.from_dict(descriptor_settings).video_score_threshold
    inference = InferenceParams.from_params(inference_params)
    queries = frame_archives.archives(video_index, inference.split, "query")
    return score_queries(vid_score_model if config.enabled else None, threshold, queries, embedding_dir.path, launch_params,
                         inference.batch_size, config.batch_size, off_reason=None if config.enabled else "video_score.enabled is false")


def _budget(video_index: pd.DataFrame, split: str) -> int:
    rows = video_index[(video_index["split"] == split) & (video_index["role"] == "query")]
    return int(sum(math.ceil(float(d)) for d in rows["duration"]))


def infer_queries(
    ensemble_members: dict,
    descriptor_settings: dict,
    pca_model,
    frame_archives: FrameArchiveStore,
    video_index: pd.DataFrame,
    query_scene_parts: dict,
    embedding_dir: Directory,
    params: dict,
    launch_params: dict,
    use_scenes: bool = True,
) -> Descriptors:
    """Per-second query descriptors of ``params.split``; scene parts merged in; within the challenge's descriptor budget.

    Each scene part is embedded like a query of its own; by default a query with
    parts keeps its number of descriptors, its parts' rows first
    (``scene_detection.parts_replace_frames``), else the parts' rows are added.
    A de-duplication threshold of the settings drops near-duplicate consecutive
    rows (of a query and of each part on its own); then, where the total passes
    the budget, the most redundant rows go first (:func:`video_similarity.vsc.dedup.fit_budget`).
    """
    config = InferenceParams.from_params(params)
    settings = DescriptorSettings.from_dict(descriptor_settings)
    queries = frame_archives.archives(video_index, config.split, "query")
    if not queries:
        raise ValueError(f"infer_query: no query archives in split {config.split!r}")
    replace = bool((query_scene_parts or {}).get("parts_replace_frames"))  # written by detect_query_scenes with its parts (none: no parts)
    embedded = embed_queries(ensemble_members, settings, pca_model, queries, (query_scene_parts or {}).get("parts") if use_scenes else None,
                             replace, embedding_dir.path, "queries", config.batch_size, launch_params)
    budget = _budget(video_index, config.split)
    kept = embedded.searched
    fitted = fit_budget(kept, budget)
    log.info("Queries: %d frames, %d descriptors (budget %d%s)", len(embedded.frames), len(fitted), budget,
             f"; {len(kept) - len(fitted)} of the most redundant rows dropped to fit it" if len(fitted) < len(kept) else "")
    return fitted


def infer_plain_queries(ensemble_members: dict, descriptor_settings: dict, pca_model, frame_archives: FrameArchiveStore,
                        video_index: pd.DataFrame, embedding_dir: Directory, params: dict, launch_params: dict) -> Descriptors:
    """:func:`infer_queries` without scene parts (the baselines, and the ablation without scene detection)."""
    return infer_queries(ensemble_members, descriptor_settings, pca_model, frame_archives, video_index, None, embedding_dir, params,
                         launch_params, use_scenes=False)


def make_plain_query_submission(query_embeddings: Descriptors, noise_bank: Descriptors, descriptor_settings: dict,
                                search_index: dict | None = None) -> Descriptors:
    """:func:`make_query_submission` without the video score (the baselines, and the ablation without it)."""
    return make_query_submission(query_embeddings, noise_bank, None, descriptor_settings, search_index, use_video_score=False)


def make_query_submission(query_embeddings: Descriptors, noise_bank: Descriptors, query_video_scores: pd.DataFrame | None,
                          descriptor_settings: dict, search_index: dict | None = None, use_video_score: bool = True) -> Descriptors:
    """The official ``query_descriptors.npz``: score-normalised queries (the settings' beta); suppressed ones as one tiny row biased by -100.

    The nearest noise row of each query row is found through ``params:search_index``'s index.
    """
    suppressed = set()
    if use_video_score and query_video_scores is not None and len(query_video_scores):
        suppressed = set(query_video_scores.loc[query_video_scores["suppressed"].astype(bool), "video_id"])
    return query_submission(query_embeddings, noise_bank, DescriptorSettings.from_dict(descriptor_settings).beta, suppressed,
                            SearchIndexParams.from_params(search_index))
