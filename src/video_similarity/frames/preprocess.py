"""Decode every indexed video into a frame archive, in parallel and incrementally.

One process per core decodes one video at a time (``frames.extract``); a video
that fails is recorded with its error and skipped; an archive that is already
current is left alone.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pandas as pd

from video_similarity.frames.archive import ArchiveSettings, is_current, read_meta
from video_similarity.frames.extract import Task, run_task
from video_similarity.parallel import run_parallel, worker_count

log = logging.getLogger(__name__)

MANIFEST_COLUMNS = ["video_id", "split", "role", "status", "n_frames", "archive", "error"]


def archive_path(root: str | Path, video_id: str) -> Path:
    return Path(root) / f"{video_id}.zip"


def preprocess_videos(
    video_index: pd.DataFrame,
    root: str | Path,
    settings: ArchiveSettings,
    workers: int | None = None,
    only_missing: bool = True,
) -> tuple[pd.DataFrame, dict]:
    """Archive every video of ``video_index`` under ``root``.

    Returns the manifest (one row per video: status ok/partial/failed/cached,
    frame count, archive path, error) and a report dict for the run.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    tasks: list[Task] = []
    for video in video_index.itertuples(index=False):
        path = archive_path(root, video.video_id)
        meta = read_meta(path) if only_missing else None
        if is_current(meta, settings):
            rows.append({"video_id": video.video_id, "status": "cached", "n_frames": meta["n_frames"], "archive": str(path), "error": ""})
        else:
            tasks.append(Task(video.video_id, str(video.path), str(path), settings))
    log.info(
        "Preprocess: %d videos to decode, %d already archived, %d workers, %s",
        len(tasks), len(rows), worker_count(workers, len(tasks)), settings,
    )
    started = time.perf_counter()
    rows += run_parallel(run_task, tasks, workers, desc="preprocess")
    elapsed = time.perf_counter() - started
    manifest = _manifest(video_index, rows)
    failed = manifest[manifest["status"] == "failed"]
    for row in failed.itertuples(index=False):
        log.warning("Preprocess skipped %s: %s", row.video_id, row.error)
    report = {
        "settings": {"fps": settings.fps, "short_side": settings.short_side, "jpeg_quality": settings.jpeg_quality},
        "archive_root": str(root),
        "counts": manifest["status"].value_counts().to_dict(),
        "decoded_videos": len(tasks),
        "elapsed_seconds": round(elapsed, 3),
        "failed": failed[["video_id", "error"]].to_dict("records"),
        "partial": manifest.loc[manifest["status"] == "partial", ["video_id", "error"]].to_dict("records"),
    }
    return manifest, report


def _manifest(video_index: pd.DataFrame, rows: list[dict]) -> pd.DataFrame:
    results = pd.DataFrame(rows, columns=["video_id", "status", "n_frames", "archive", "error"])
    base = video_index[["video_id", "split", "role"]].merge(results, on="video_id", how="left")
    base["n_frames"] = base["n_frames"].fillna(0).astype("int64")
    base.loc[base["status"] == "failed", "archive"] = ""
    return base[MANIFEST_COLUMNS].reset_index(drop=True)
