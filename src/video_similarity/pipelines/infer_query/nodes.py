"""Query-side inference: scene parts, video scores, descriptors and the query submission (score-normalised as in the spec, section 2)."""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from video_similarity.cache import input_key, open_stamped, read_item, write_item
from video_similarity.datasets.directory import Directory
from video_similarity.datasets.frame_archives import FrameArchiveStore
from video_similarity.descriptors import Descriptors
from video_similarity.embeddings import drop_near_duplicates, embed_with_ensemble, project, query_submission
from video_similarity.params import parse
from video_similarity.pipelines.infer_ref.nodes import InferenceParams
from video_similarity.query_boost import merge_parts, part_id

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VideoScoreParams:
    """``params:video_score``: how infer_query uses the model train_vid_score made."""

    enabled: bool = True  # false: no query is suppressed
    threshold: float = 0.001  # a query whose score (sigmoid) is below this is suppressed (the rank-1's value)
    batch_size: int = 64

    @classmethod
    def from_params(cls, params: dict | None) -> "VideoScoreParams":
        return parse(cls, params, "video_score")


def _write_parts(folder: Path, video_id: str, archive, frames: list[np.ndarray], layout) -> list[dict]:
    """One frame archive per part of ``layout`` (cropped frames, the query's timestamps); the manifest rows."""
    from video_similarity.frames.archive import ArchiveSettings, write_archive
    from video_similarity.video.decode import SampledFrame

    for stale in folder.glob(f"{video_id}~p*.zip"):
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

    from video_similarity.frames.scene_layout import SceneDetectionParams, detect_layout

    config = SceneDetectionParams.from_params(params)
    split = InferenceParams.from_params(inference_params).split
    if not config.enabled:
        log.info("Scene detection is off (scene_detection.enabled)")
        return {"enabled": False, "parts": {}}
    queries = frame_archives.archives(video_index, split, "query")
    folder = scene_part_dir.path
    # how parts are merged is infer_queries' business: changing it keeps the layouts
    open_stamped(folder, {"scene_detection": {k: v for k, v in dataclasses.asdict(config).items() if k != "parts_replace_frames"}})
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
                    layout = detect_layout(frames, config)
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
    frame_archives: FrameArchiveStore,
    video_index: pd.DataFrame,
    embedding_dir: Directory,
    params: dict,
    inference_params: dict,
    launch_params: dict,
) -> pd.DataFrame:
    """Every query's video score (P(it holds copied content)) and whether it is suppressed (score below the threshold)."""
    from video_similarity.extraction import encoder_items
    from video_similarity.models.vid_score import score_videos

    config = VideoScoreParams.from_params(params)
    inference = InferenceParams.from_params(inference_params)
    queries = frame_archives.archives(video_index, inference.split, "query")
    scores = pd.DataFrame({"video_id": sorted(queries), "score": np.nan, "suppressed": False})
    if not config.enabled:
        log.info("Video score is off (video_score.enabled): no query is suppressed")
        return scores
    if not vid_score_model or vid_score_model.get("skipped"):
        log.info("No video-score model (%s): no query is suppressed", (vid_score_model or {}).get("skipped", "train_vid_score has not run"))
        return scores
    encoder = vid_score_model["encoder"]
    items = encoder_items(encoder["name"], encoder["entry"], queries, embedding_dir.path, launch_params, inference.batch_size)
    found = score_videos(vid_score_model["torchscript"], items, int(vid_score_model["max_frames"]), config.batch_size)
    scores["score"] = scores["video_id"].map(found)
    scores["suppressed"] = scores["score"].lt(config.threshold).fillna(False)  # a query without features is kept
    log.info("Video score: %d of %d queries below %g are suppressed", int(scores["suppressed"].sum()), len(scores), config.threshold)
    return scores


def _budget(video_index: pd.DataFrame, split: str) -> int:
    rows = video_index[(video_index["split"] == split) & (video_index["role"] == "query")]
    return int(sum(math.ceil(float(d)) for d in rows["duration"]))


def infer_queries(
    ensemble_members: dict,
    pca_model,
    frame_archives: FrameArchiveStore,
    video_index: pd.DataFrame,
    query_scene_parts: dict,
    embedding_dir: Directory,
    params: dict,
    launch_params: dict,
    use_scenes: bool = True,
) -> Descriptors:
    """Per-second query descriptors of ``params.split``, near-duplicate consecutive frames dropped; scene parts appended.

    Each scene part is embedded like a query of its own and de-duplicated on its
    own; by default a query with parts keeps its number of descriptors, its
    parts' rows first (``scene_detection.parts_replace_frames``), else the parts'
    rows are added within the challenge's descriptor budget.
    """
    config = InferenceParams.from_params(params)
    queries = frame_archives.archives(video_index, config.split, "query")
    if not queries:
        raise ValueError(f"infer_query: no query archives in split {config.split!r}")
    embedded = project(embed_with_ensemble(ensemble_members, queries, embedding_dir.path, "queries", config.batch_size, launch_params), pca_model)
    kept = drop_near_duplicates(embedded, config.dedup_threshold)
    log.info("Queries: %d descriptors, %d after dropping near-duplicate consecutive frames", len(embedded.features), len(kept.features))
    parts = {
        part_id(video, k): row["archive"]
        for video, rows in ((query_scene_parts or {}).get("parts") or {}).items() if video in queries
        for k, row in enumerate(rows) if Path(row["archive"]).is_file()
    }
    if not use_scenes or not parts:
        return kept
    embedded_parts = project(embed_with_ensemble(ensemble_members, parts, embedding_dir.path, "query_parts", config.batch_size, launch_params), pca_model)
    replace = bool(query_scene_parts.get("parts_replace_frames", True))
    merged = merge_parts(kept, drop_near_duplicates(embedded_parts, config.dedup_threshold), _budget(video_index, config.split), replace)
    log.info("Scene parts: %d part descriptors %s (%d left out: %s)", merged.part_rows,
             "in place of their queries' frames" if replace else "added", merged.dropped,
             "a query keeps its number of descriptors" if replace else "the descriptor budget")
    return merged.descriptors


def infer_plain_queries(ensemble_members: dict, pca_model, frame_archives: FrameArchiveStore, video_index: pd.DataFrame,
                        embedding_dir: Directory, params: dict, launch_params: dict) -> Descriptors:
    """:func:`infer_queries` without scene parts (the baselines, and the ablation without scene detection)."""
    return infer_queries(ensemble_members, pca_model, frame_archives, video_index, None, embedding_dir, params, launch_params, use_scenes=False)


def make_plain_query_submission(query_embeddings: Descriptors, noise_bank: Descriptors, params: dict) -> Descriptors:
    """:func:`make_query_submission` without the video score (the baselines, and the ablation without it)."""
    return make_query_submission(query_embeddings, noise_bank, None, params, use_video_score=False)


def make_query_submission(query_embeddings: Descriptors, noise_bank: Descriptors, query_video_scores: pd.DataFrame | None, params: dict,
                          use_video_score: bool = True) -> Descriptors:
    """The official ``query_descriptors.npz``: score-normalised queries; suppressed ones as one tiny row biased by -100."""
    suppressed = set()
    if use_video_score and query_video_scores is not None and len(query_video_scores):
        suppressed = set(query_video_scores.loc[query_video_scores["suppressed"].astype(bool), "video_id"])
    return query_submission(query_embeddings, noise_bank, InferenceParams.from_params(params).beta, suppressed)
