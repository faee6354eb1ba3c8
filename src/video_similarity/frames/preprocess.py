"""Decode every indexed video into a frame archive, in parallel and incrementally.

One process per core decodes one video at a time (``frames.archive_job``); a video
that fails is recorded with its error and skipped; an archive that is already
current (same settings, same source: path, size, mtime and a fingerprint of
its bytes) is left alone. A video's status and error survive reruns until the
video itself changes: a partial archive stays "partial" with its error, and a
failure is remembered beside the archives (``<id>.failed.json``) instead of
being retried on every run.

The cache rule (:func:`plan`), the decoding with its failure records
(:func:`decode`) and the report (:func:`summarize`) are also what each rank
runs under torchrun (``frames.preprocess_job``), so both launchers skip,
record and report a video alike.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Iterator
from contextlib import closing
from dataclasses import asdict
from pathlib import Path

import pandas as pd

from video_similarity.atomic import atomic_write
from video_similarity.frames.archive import ArchiveSettings, is_current, read_meta, source_key
from video_similarity.frames.archive_job import Task, run_task
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
    rows, tasks = plan(zip(video_index["video_id"], video_index["path"]), root, settings, only_missing)
    log.info(
        "Preprocess: %d videos to decode, %d already archived, %d workers, %s",
        len(tasks), len(rows), worker_count(workers, len(tasks)), settings,
    )
    started = time.perf_counter()
    rows += decode(tasks, root, settings, workers)
    return summarize(video_index, root, settings, rows, len(tasks), time.perf_counter() - started)


def plan(videos: Iterable[tuple[str, str]], root: Path, settings: ArchiveSettings, only_missing: bool) -> tuple[list[dict], list[Task]]:
    """The cache rule over ``videos`` (id, source): rows of the videos it settles without decoding (a current
    archive, a remembered failure, a source that cannot be read) and the tasks left to decode.

    Both launchers call it (a torchrun rank on its share), so a video is skipped for the same reasons either way.
    """
    rows: list[dict] = []
    tasks: list[Task] = []
    for video_id, source in videos:
        path = archive_path(root, video_id)
        meta, record = read_meta(path), _failure(root, video_id)  # what an earlier run made of this video
        try:
            key = source_key(source, known=(meta or {}).get("source_key") or (record or {}).get("source_key"))
        except FileNotFoundError:
            rows.append(_failed(root, video_id, None, settings, f"{source}: file does not exist"))
            continue
        except OSError as exc:
            rows.append(_failed(root, video_id, None, settings, f"{source}: cannot read the source ({exc.strerror or exc})"))
            continue
        if only_missing and (known := _known(video_id, path, meta, record, key, settings)) is not None:
            rows.append(known)
        else:
            tasks.append(Task(video_id, str(source), str(path), settings, key))
    return rows, tasks


def decode(tasks: list[Task], root: Path, settings: ArchiveSettings, workers: int | None, progress: bool = True) -> Iterator[dict]:
    """Each task's manifest row, decoded in a pool of ``workers`` processes (completion order; a bar if ``progress``).

    A row is yielded once its video is settled on disk: the archive written
    (atomically, by the worker), a failure remembered or an old one cleared.
    """
    keys = {t.video_id: t.source_key for t in tasks}
    with closing(run_parallel(run_task, tasks, workers, desc="preprocess", on_crash=_crashed, progress=progress)) as results:
        for row in results:
            if row["status"] == "failed":
                remember = row.pop("remember", True)
                row = _failed(root, row["video_id"], keys.get(row["video_id"]) if remember else None, settings, row["error"])
            else:
                _failure_record(root, row["video_id"]).unlink(missing_ok=True)
            yield row


def summarize(video_index: pd.DataFrame, root: Path, settings: ArchiveSettings, rows: list[dict], decoded: int,
              elapsed: float) -> tuple[pd.DataFrame, dict]:
    """The manifest of ``rows`` in the index's order and the run's report; failures are logged."""
    manifest = _manifest(video_index, rows)
    failed = manifest[manifest["status"] == "failed"]
    for row in failed.itertuples(index=False):
        log.warning("Preprocess skipped %s: %s", row.video_id, row.error)
    report = {
        "settings": asdict(settings),
        "archive_root": str(root),
        "counts": manifest["status"].value_counts().to_dict(),
        "decoded_videos": decoded,
        "elapsed_seconds": round(elapsed, 3),
        "failed": failed[["video_id", "error"]].to_dict("records"),
        "partial": manifest.loc[manifest["status"] == "partial", ["video_id", "error"]].to_dict("records"),
    }
    return manifest, report


def _failure_record(root: Path, video_id: str) -> Path:
    return root / f"{video_id}.failed.json"


def _failed(root: Path, video_id: str, key: str | None, settings: ArchiveSettings, error: str) -> dict:
    """A failed video's manifest row; its failure is remembered (with the source's key) until the source changes."""
    if key is not None:
        record = {"source_key": key, "settings": asdict(settings), "error": error}
        atomic_write(_failure_record(root, video_id), lambda handle: handle.write(json.dumps(record).encode()))
    return {"video_id": video_id, "status": "failed", "n_frames": 0, "archive": "", "error": error}


def _failure(root: Path, video_id: str) -> dict | None:
    """The remembered failure of a video (``<id>.failed.json``), if any."""
    try:
        return json.loads(_failure_record(root, video_id).read_text())
    except (OSError, ValueError):
        return None


def _known(video_id: str, path: Path, meta: dict | None, record: dict | None, key: str, settings: ArchiveSettings) -> dict | None:
    """The row of a video whose archive (``meta``) or failure (``record``) already stands for this source and these settings, else None."""
    if is_current(meta, settings) and meta.get("source_key") == key:
        status = "partial" if meta.get("status") == "partial" else "cached"
        return {"video_id": video_id, "status": status, "n_frames": meta["n_frames"], "archive": str(path), "error": meta.get("error", "")}
    if record is not None and record.get("source_key") == key and record.get("settings") == asdict(settings):
        return {"video_id": video_id, "status": "failed", "n_frames": 0, "archive": "", "error": record.get("error", "")}
    return None


def _crashed(task: Task, reason: str) -> dict:
    """The row of a video whose decoding process died (out of memory, a decoder segfault)."""
    return {"video_id": task.video_id, "archive": task.archive, "status": "failed", "n_frames": 0,
            "error": f"{task.source}: the decoding process died ({reason})"}


def _manifest(video_index: pd.DataFrame, rows: list[dict]) -> pd.DataFrame:
    results = pd.DataFrame(rows, columns=["video_id", "status", "n_frames", "archive", "error"])
    base = video_index[["video_id", "split", "role"]].merge(results, on="video_id", how="left")
    base["n_frames"] = base["n_frames"].fillna(0).astype("int64")
    base.loc[base["status"] == "failed", "archive"] = ""
    return base[MANIFEST_COLUMNS].reset_index(drop=True)
