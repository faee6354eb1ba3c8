"""A retrieval dataset on disk (FIVR, CC_WEB_VIDEO, the FIVR-shaped demo) -> video index and ground truth.

The videos are a folder of ``<video_id>.<ext>`` files (ids may contain ``/``,
as CC_WEB_VIDEO's ``<set>/<name>`` do). Videos named by the lists but absent
from the folder are listed in the report, never fatal: the evaluator counts
their positives as misses (or leaves them out, with ``all_db: available``).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from video_similarity.ingest.problems import DatasetUnusableError, ProblemLog

if TYPE_CHECKING:
    from video_similarity.pipelines.retrieval.params import RetrievalParams

log = logging.getLogger(__name__)

BENCHMARKS = ("fivr", "cc_web")
VIDEO_EXTENSIONS = (".mp4", ".webm", ".mkv", ".flv", ".avi", ".mov", ".wmv", ".mpg", ".mpeg", ".m4v", ".3gp", ".rm", ".asf")
INDEX_COLUMNS = ["video_id", "path", "split", "role"]


def find_videos(video_dir: str | Path, extensions=VIDEO_EXTENSIONS, problems: ProblemLog | None = None) -> dict[str, Path]:
    """{video id: file} for every video under ``video_dir``; the id is the relative path without extension."""
    root = Path(video_dir)
    if not root.is_dir():
        raise DatasetUnusableError(f"video folder {root} does not exist")
    allowed = {e.lower() for e in extensions}
    found: dict[str, Path] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in allowed):
        video_id = path.relative_to(root).with_suffix("").as_posix()
        if video_id in found:
            if problems is not None:
                problems.add(path, video_id, f"second file for this id; {found[video_id].name} is used", "duplicate_id")
            continue
        found[video_id] = path
    return found


def _required(value: str | None, key: str, benchmark: str) -> str:
    if not value:
        raise DatasetUnusableError(f"retrieval.{key} is not set: benchmark {benchmark} needs it")
    return value


def _read_ids(path: str | Path) -> list[str]:
    from video_similarity.metrics.fivr import read_id_list

    return read_id_list(path)


def fivr_lists(params: RetrievalParams, annotation: dict, found: dict[str, Path]) -> tuple[list[str], list[str], str]:
    """The subset's query and database ids (``retrieval.subsets[subset]``), and where they came from.

    A list left null means: queries = every annotated query; database = every
    other video found in the folder (FIVR-200K without its database list).
    """
    subset = params.subset
    subsets = params.subsets or {}
    if subset not in subsets:
        raise ValueError(f"retrieval.subset {subset!r} is not among retrieval.subsets ({sorted(subsets)})")
    lists = subsets[subset] or {}
    queries = _read_ids(lists["queries"]) if lists.get("queries") else sorted(annotation)
    if lists.get("database"):
        database = _read_ids(lists["database"])
    else:
        database = sorted(set(found) - set(queries))
    source = (
        f"subset {subset}: queries {lists.get('queries') or 'every annotated query'}, "
        f"database {lists.get('database') or 'every other video in the folder'}"
    )
    return queries, database, source


def index_retrieval_dataset(root: str | Path, params: RetrievalParams) -> tuple[pd.DataFrame, dict, dict]:
    """Video index (found videos: id, path, split eval/train, role query/database/train), ground truth, report."""
    from video_similarity.metrics.cc_web import load_ground_truth
    from video_similarity.metrics.fivr import load_annotation

    benchmark = params.benchmark
    if benchmark not in BENCHMARKS:
        raise ValueError(f"retrieval.benchmark must be one of {BENCHMARKS}, got {benchmark!r}")
    root = Path(root)
    problems = ProblemLog()
    video_dir = root / params.video_dir
    found = find_videos(video_dir, params.extensions or VIDEO_EXTENSIONS, problems)
    if benchmark == "fivr":
        annotation = load_annotation(_required(params.annotation, "annotation", benchmark))
        queries, database, lists_source = fivr_lists(params, annotation, found)
        missing_labels = [q for q in queries if q not in annotation]
        for q in missing_labels:
            problems.add(params.annotation, q, "query has no annotation entry; it is not evaluated", "unknown_id")
        ground_truth = {
            "benchmark": "fivr",
            "subset": params.subset,
            "lists": lists_source,
            "queries": queries,
            "database": database,
            "annotation": {q: annotation[q] for q in queries if q in annotation},
        }
    else:
        gt = load_ground_truth(_required(params.ground_truth, "ground_truth", benchmark))
        queries, database = list(gt.queries), [v for v in gt.index if v not in set(gt.queries)]
        lists_source = f"CC_WEB_VIDEO ground truth {params.ground_truth}: {len(queries)} queries, {len(gt.index)} indexed videos"
        ground_truth = {"benchmark": "cc_web", "ground_truth_file": str(params.ground_truth), "queries": queries, "database": database}
    train = _read_ids(params.train) if params.train else []
    if params.train_annotation:
        train_set = set(train)
        ground_truth["train_annotation"] = {q: labels for q, labels in load_annotation(params.train_annotation).items() if q in train_set}

    rows, missing = [], {"query": [], "database": [], "train": []}
    seen: set[str] = set()
    for role, split, ids in (("query", "eval", queries), ("database", "eval", database), ("train", "train", train)):
        for video_id in ids:
            if video_id in seen:
                continue  # a query that is also in the database stays a query (FIVR's all_db holds both)
            seen.add(video_id)
            if video_id in found:
                rows.append({"video_id": video_id, "path": str(found[video_id]), "split": split, "role": role})
            else:
                missing[role].append(video_id)
    for role, ids in missing.items():
        if ids:
            log.warning("%d %s video(s) of the lists are not in %s", len(ids), role, video_dir)
    index = pd.DataFrame(rows, columns=INDEX_COLUMNS)
    if not (index["role"] == "query").any():
        raise DatasetUnusableError(f"none of the {len(queries)} query videos was found in {video_dir}")
    report = {
        "benchmark": benchmark,
        "video_dir": str(video_dir),
        "lists": lists_source,
        "counts": {
            "queries": len(queries), "database": len(database), "train": len(train),
            "found": {r: int((index["role"] == r).sum()) for r in ("query", "database", "train")},
            "missing": {r: len(v) for r, v in missing.items()},
            "files_in_folder": len(found),
        },
        "missing_videos": missing,
        "problems": problems.records(),
    }
    log.info("Retrieval dataset %s: %d of %d query and %d of %d database videos found",
             benchmark, report["counts"]["found"]["query"], len(queries), report["counts"]["found"]["database"], len(database))
    return index, ground_truth, report
