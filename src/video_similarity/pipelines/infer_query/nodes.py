"""Query-side inference: scene parts, video scores, descriptors and the query submission (score-normalised as in the spec, section 2)."""

from __future__ import annotations

import dataclasses
import logging
import math
from pathlib import Path

import numpy as np
import pandas as pd

from video_similarity.cache import input_key, open_stamped, read_item, write_item
from video_similarity.datasets.directory import Directory
from video_similarity.datasets.frame_archives import FrameArchiveStore
from video_similarity.descriptors import Descriptors
from video_similarity.pipelines.infer_query.params import SceneDetectionParams, VideoScoreParams
from video_similarity.pipelines.infer_ref.params import InferenceParams
from video_similarity.vsc.boosters import PART, merge_parts, part_id
from video_similarity.vsc.dedup import drop_near_duplicates, fit_budget
from video_similarity.vsc.ensemble import embed_with_ensemble, project
from video_similarity.vsc.settings import DescriptorSettings
from video_similarity.vsc.submission import query_submission
from video_similarity.vsc.video_scores import video_scores

log = logging.getLogger(__name__)


def _write_parts(folder: Path, video_id: str, archive, frames: list[np.ndarray], layout) -> list[dict]:
    """One frame archive per part of ``layout`` (cropped frames, the query's timestamps); the manifest rows."""
    from video_similarity.frames.archive import ArchiveSettings, write_archive
    from video_similarity.video.decode import SampledFrame

    for stale in folder.glob(f"{video_id}{PART}*.zip"):
        stale.unlink()
    known = {f.name for f in dataclasses.fields(ArchiveSettings)}
    settings = ArchiveSettings(**{k: v for k, v in archive.meta.items() if k in known})
    rows = []
    for k, box in enumerate(layout.parts):
        path = folder / f"{part_id(video_id, k)}.zip"
        cropped = (SampledFrame(i, float(s), float(e), np.ascontiguousarray(box.crop(f)))
                   for i, (f, (s, e)) in enumerate(zip(frames, archive.timestamps)))
        write_archive(path, part_id(video_id, k), cropped, settings, extra={"parent": video_id, "box": [box.top, box.left, box.bottom, box.right]})
        rows.append({"archive": str(path), "box": [box.top, box.left, box.bottom, box.right]})
    return rows


def detect_query_scenes(
    frame_archives: FrameArchiveStore, video_index: pd.DataFrame, scene_part_dir: Directory, params: dict, inference_params: dict
) -> dict:
    """Frame scene detection on every query of the evaluated split: static borders cropped, stacked scenes split.

    A query whose layout is not the whole frame gets one frame archive per part
    in ``scene_part_dir`` (the one cache rule: the folder is stamped with the
    detection settings, each query's layout is an item keyed by its archive).
    Returns the manifest ``{"parts": {query: [{archive, box}]}, ...}``.
    """
    from tqdm.auto import tqdm

    from video_similarity.frames.scene_layout import detect_layout

    config = SceneDetectionParams.from_params(params)
    split = InferenceParams.from_params(inference_params).split
    if not config.enabled:
        log.info("Scene detection is off (scene_detection.enabled)")
        return {"enabled": False, "parts": {}}
    queries = frame_archives.archives(video_index, split, "query")
    folder = scene_part_dir.path
    thresholds = config.thresholds()  # how parts are merged is infer_queries' business: changing it keeps the layouts
    open_stamped(folder, {"scene_detection": dataclasses.asdict(thresholds)})
    parts: dict[str, list[dict]] = {}
    failed: dict[str, str] = {}
    for video_id, path in tqdm(sorted(queries.items()), desc="scene detection", unit="video"):
        key = input_key(path)
        item = read_item(folder, video_id)
        try:
            if item is None or str(item["key"]) != key:
                from video_similarity.frames.archive import FrameArchive

                with FrameArchive(path) as archive:  # decoded once: for the layout and for its parts
                    frames = list(archive.frames())
                    layout = detect_layout(frames, thresholds)
                    rows = [] if layout.is_whole else _write_parts(folder, video_id, archive, frames, layout)
                boxes = np.asarray([r["box"] for r in rows], dtype=np.int64).reshape(-1, 4)
                write_item(folder, video_id, key, boxes=boxes)  # after the part archives: an interrupted video is redone
            else:
                boxes = item["boxes"].reshape(-1, 4)
                rows = [{"archive": str(folder / f"{part_id(video_id, k)}.zip"), "box": b.tolist()} for k, b in enumerate(boxes)]
        except (OSError, ValueError) as error:
            failed[video_id] = str(error)
            log.warning("Scene detection skipped %s: %s", video_id, error)
            continue
        if rows:
            parts[video_id] = rows
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
    scores = pd.DataFrame({"video_id": sorted(queries), "score": np.nan, "suppressed": False})
    if not config.enabled:
        log.info("Video score is off (video_score.enabled): no query is suppressed")
        return scores
    found = video_scores(vid_score_model, queries, embedding_dir.path, launch_params, inference.batch_size, config.batch_size)
    if found is None:
        log.info("No video-score model (%s): no query is suppressed", (vid_score_model or {}).get("skipped", "train_vid_score has not run"))
        return scores
    scores["score"] = scores["video_id"].map(found)
    if threshold is None:
        log.info("Video score: %d queries scored; the descriptor settings suppress none", int(scores["score"].notna().sum()))
        return scores
    scores["suppressed"] = scores["score"].lt(threshold).fillna(False)  # a query without features is kept
    log.info("Video score: %d of %d queries below %g are suppressed", int(scores["suppressed"].sum()), len(scores), threshold)
    return scores


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
    embedded = project(embed_with_ensemble(ensemble_members, settings, queries, embedding_dir.path, "queries", config.batch_size, launch_params),
                       pca_model)
    budget = _budget(video_index, config.split)
    kept = _dedup(embedded, settings)
    parts = {
        part_id(video, k): row["archive"]
        for video, rows in ((query_scene_parts or {}).get("parts") or {}).items() if video in queries
        for k, row in enumerate(rows) if Path(row["archive"]).is_file()
    }
    if use_scenes and parts:
        embedded_parts = project(embed_with_ensemble(ensemble_members, settings, parts, embedding_dir.path, "query_parts", config.batch_size,
                                                     launch_params), pca_model)
        replace = bool(query_scene_parts["parts_replace_frames"])  # written by detect_scene_parts with its parts
        merged = merge_parts(kept, _dedup(embedded_parts, settings), replace)
        log.info("Scene parts: %d part descriptors %s (%d left out: a query keeps its number of descriptors)", merged.part_rows,
                 "in place of their queries' frames" if replace else "added", merged.dropped)
        kept = merged.descriptors
    fitted = fit_budget(kept, budget)
    log.info("Queries: %d frames, %d descriptors (budget %d%s)", len(embedded), len(fitted), budget,
             f"; {len(kept) - len(fitted)} of the most redundant rows dropped to fit it" if len(fitted) < len(kept) else "")
    return fitted


def _dedup(descriptors: Descriptors, settings: DescriptorSettings) -> Descriptors:
    """The settings' fixed-threshold de-duplication, if they ask for one."""
    if settings.dedup_threshold is None:
        return descriptors
    kept = drop_near_duplicates(descriptors, settings.dedup_threshold)
    log.info("De-duplication at %g: %d of %d rows kept", settings.dedup_threshold, len(kept), len(descriptors))
    return kept


def infer_plain_queries(ensemble_members: dict, descriptor_settings: dict, pca_model, frame_archives: FrameArchiveStore,
                        video_index: pd.DataFrame, embedding_dir: Directory, params: dict, launch_params: dict) -> Descriptors:
    """:func:`infer_queries` without scene parts (the baselines, and the ablation without scene detection)."""
    return infer_queries(ensemble_members, descriptor_settings, pca_model, frame_archives, video_index, None, embedding_dir, params,
                         launch_params, use_scenes=False)


def make_plain_query_submission(query_embeddings: Descriptors, noise_bank: Descriptors, descriptor_settings: dict) -> Descriptors:
    """:func:`make_query_submission` without the video score (the baselines, and the ablation without it)."""
    return make_query_submission(query_embeddings, noise_bank, None, descriptor_settings, use_video_score=False)


def make_query_submission(query_embeddings: Descriptors, noise_bank: Descriptors, query_video_scores: pd.DataFrame | None,
                          descriptor_settings: dict, use_video_score: bool = True) -> Descriptors:
    """The official ``query_descriptors.npz``: score-normalised queries (the settings' beta); suppressed ones as one tiny row biased by -100."""
    suppressed = set()
    if use_video_score and query_video_scores is not None and len(query_video_scores):
        suppressed = set(query_video_scores.loc[query_video_scores["suppressed"].astype(bool), "video_id"])
    return query_submission(query_embeddings, noise_bank, DescriptorSettings.from_dict(descriptor_settings).beta, suppressed)
