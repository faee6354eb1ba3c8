"""Preprocess under torchrun: the decoding job, a rank's share of it and rank 0's merge, so that hosts decode together.

The node on every host builds the same :class:`DecodeJob` (every video of the
index) and runs it through ``jobs.run_job``; torchrun's rendezvous joins the
hosts. Rank r takes the sorted ids r::world_size, applies the cache rule to
them and decodes what is left in a process pool of its own, with the pool
path's functions (``frames.preprocess``: the same skips, failure records,
atomic archives and crash isolation). The cache rule is sharded too: it reads
2 MiB of every source not yet archived, which on a first run is not free.

Each rank appends one JSON row per settled video to ``rows_rank<r>.jsonl`` in
the work folder (``<archive root>/preprocess_job/``, on the filesystem all
hosts share) and ends with its summary (``rank<r>.json``); after a barrier
rank 0 merges them into ``result.json``, which the node of every host reads
back as the same manifest and report. A rank that dies loses its in-flight
video only: every finished archive is current for the rerun.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pandas as pd

from video_similarity.atomic import atomic_write
from video_similarity.frames.archive import ArchiveSettings
from video_similarity.frames.preprocess import decode, plan, summarize
from video_similarity.jobs import run_job
from video_similarity.launch import LaunchConfig, LaunchError

WORKER = "video_similarity.workers.decode"
WORK_FOLDER = "preprocess_job"  # under the archive root: every host sees it
RESULT = "result.json"
PROGRESS_SECONDS = 30.0

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DecodeJob:
    """Frame archives of ``videos`` under ``archive_root``, shared out among the launch's ranks."""

    WORKER: ClassVar[str] = WORKER

    videos: dict[str, str]  # {video_id: source path}
    archive_root: str
    settings: ArchiveSettings
    only_missing: bool
    workers: int | None  # decoding processes per rank; None: the host's cores shared by its ranks
    work_dir: str  # each rank's rows, rank 0's merge


def rows_path(work: Path, rank: int) -> Path:
    return work / f"rows_rank{rank}.jsonl"


def summary_path(work: Path, rank: int) -> Path:
    return work / f"rank{rank}.json"


def decode_share(job: DecodeJob, rank: int, world_size: int, local_world_size: int = 1) -> dict:
    """Rank ``rank``'s share of ``job``: its rows appended as each video is settled; its summary, written last."""
    root, work = Path(job.archive_root), Path(job.work_dir)
    mine = sorted(job.videos)[rank::world_size]
    workers = job.workers or max(1, (os.cpu_count() or 1) // local_world_size)
    started = last = time.perf_counter()
    if rank == 0:
        (work / RESULT).unlink(missing_ok=True)  # an earlier run's merge must not pass for this one's
    with open(rows_path(work, rank), "w") as rows:
        known, tasks = plan(((v, job.videos[v]) for v in mine), root, job.settings, job.only_missing)
        log.info("rank %d: %d videos to decode, %d already archived, %d workers", rank, len(tasks), len(known), workers)
        rows.writelines(json.dumps(row) + "\n" for row in known)
        for done, row in enumerate(decode(tasks, root, job.settings, workers, progress=False), 1):  # the launcher logs by line: no bar
            rows.write(json.dumps(row) + "\n")
            rows.flush()  # a rank's progress is readable as it goes
            if time.perf_counter() - last >= PROGRESS_SECONDS:
                last = time.perf_counter()
                log.info("rank %d: %d of %d videos decoded (%.1f s)", rank, done, len(tasks), last - started)
    summary = {"rank": rank, "host": socket.gethostname(), "videos": len(mine), "decoded": len(tasks),
               "seconds": round(time.perf_counter() - started, 3)}
    atomic_write(summary_path(work, rank), lambda handle: handle.write(json.dumps(summary).encode()))
    return summary


def merge(job: DecodeJob, world_size: int) -> dict:
    """Rank 0, once every rank has finished: every rank's rows and summaries in ``result.json``, each video exactly once."""
    work = Path(job.work_dir)
    rows = [json.loads(line) for rank in range(world_size) for line in rows_path(work, rank).read_text().splitlines()]
    ranks = [json.loads(summary_path(work, rank).read_text()) for rank in range(world_size)]
    counts = Counter(row["video_id"] for row in rows)
    if counts.keys() != job.videos.keys() or len(rows) != len(job.videos):
        missing = sorted(job.videos.keys() - counts.keys())
        extra = sorted({v for v, n in counts.items() if n > 1 or v not in job.videos})
        raise RuntimeError(f"the ranks' rows do not cover the videos once each (missing {missing[:5]}, repeated or unknown {extra[:5]}): "
                           "did every host run the same video index?")
    result = {"rows": rows, "world_size": world_size, "ranks": ranks, "decoded": sum(r["decoded"] for r in ranks),
              "elapsed_seconds": max((r["seconds"] for r in ranks), default=0.0)}
    atomic_write(work / RESULT, lambda handle: handle.write(json.dumps(result).encode()))
    return result


def preprocess_with_torchrun(
    video_index: pd.DataFrame,
    root: str | Path,
    settings: ArchiveSettings,
    workers: int | None,
    only_missing: bool,
    launch_params: dict | LaunchConfig | None,
) -> tuple[pd.DataFrame, dict]:
    """:func:`~video_similarity.frames.preprocess.preprocess_videos` with every rank of ``launch_params`` decoding a share.

    Every host's node calls this with the same index and parameters and
    returns the same manifest and report (``world_size`` and ``ranks`` added).
    The job always starts, even when every archive is current: every host must
    join the rendezvous, and only the ranks' own look at the store counts.
    """
    root = Path(root)
    work = root / WORK_FOLDER
    work.mkdir(parents=True, exist_ok=True)
    job = DecodeJob({str(v): str(p) for v, p in zip(video_index["video_id"], video_index["path"])}, str(root), settings,
                    only_missing, workers, str(work))
    log.info("Preprocess: %d videos, decoded by every rank of the launch (torchrun), %s", len(job.videos), settings)
    try:
        run_job(job, launch_params, workdir=work / "hosts" / socket.gethostname())  # the spec: read by this host's ranks only
    except LaunchError as error:
        raise LaunchError(f"preprocess: a decoding rank failed; the archives finished so far are kept, a rerun decodes "
                          f"only the rest\n{error}") from error
    result = json.loads((work / RESULT).read_text())
    manifest, report = summarize(video_index, root, settings, result["rows"], result["decoded"], result["elapsed_seconds"])
    return manifest, {**report, "world_size": result["world_size"], "ranks": result["ranks"]}
