"""Index a directory in the official VSC-2022 layout, validating as it goes.

Layout (any subset of splits; names are discovered, not assumed)::

    {split}/query/{video_id}.mp4        {split}_query_metadata.csv
    {split}/reference/{video_id}.mp4    {split}_reference_metadata.csv
    {split}_matching_ground_truth.csv   {split}_descriptor_ground_truth.csv
    {split}_query_edits.csv             (optional; the demo corpus writes it)

Bad rows and files are recorded in a ``ProblemLog`` and skipped; only a root
that cannot be read or holds no metadata at all raises ``DatasetUnusableError``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from video_similarity.ingest.problems import DatasetUnusableError, ProblemLog

ROLES = ("query", "reference")
VIDEO_EXTENSIONS = (".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v")
METADATA_COLUMNS = ("video_id", "duration_sec", "frames_per_sec", "width", "height")
MATCHING_COLUMNS = ("query_id", "ref_id", "query_start", "query_end", "ref_start", "ref_end")
INDEX_COLUMNS = ["video_id", "split", "role", "path", "duration", "fps", "width", "height"]
GT_MATCHING_COLUMNS = ["split", *MATCHING_COLUMNS]
GT_PAIR_COLUMNS = ["split", "query_id", "ref_id"]
_SPLIT_FILE = re.compile(r"^(?P<split>.+)_(query|reference)_metadata\.csv$")
_KNOWN_ORDER = {"train": 0, "val": 1, "validation": 1, "test": 2}


@dataclass
class VscIndex:
    """What ingest produces: the video index, ground truth, edits and the problems found."""

    videos: pd.DataFrame
    matching: pd.DataFrame
    pairs: pd.DataFrame
    edits: pd.DataFrame
    problems: ProblemLog
    splits: list[str]
    root: Path


def discover_splits(root: Path) -> list[str]:
    """Split names that have a metadata file, in train/val/test order, then by name."""
    found = {m["split"] for p in root.iterdir() if (m := _SPLIT_FILE.match(p.name))}
    return sorted(found, key=lambda s: (_KNOWN_ORDER.get(s, 9), s))


def _read_csv(path: Path, required: tuple[str, ...], problems: ProblemLog) -> pd.DataFrame | None:
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        problems.add(path, "file", f"cannot be read as CSV ({exc}); file skipped", "unreadable_file")
        return None
    table.columns = [c.strip() for c in table.columns]
    missing = [c for c in required if c not in table.columns]
    if missing:
        problems.add(path, "file", f"missing column(s) {missing} (has {list(table.columns)}); file skipped", "bad_header")
        return None
    return table


def _number(value: str, integer: bool = False) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(number) or number <= 0 or (integer and number != int(number)):
        return None
    return number


def _video_files(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        return {}
    files: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() in VIDEO_EXTENSIONS and path.is_file():
            files.setdefault(path.stem, path)  # .mp4 sorts before most; first one wins
    return files


def _index_role(root: Path, split: str, role: str, seen: dict[str, str], problems: ProblemLog) -> list[dict]:
    meta_path = root / f"{split}_{role}_metadata.csv"
    files = _video_files(root / split / role)
    if not meta_path.is_file():
        if files:
            problems.add(meta_path, "file", f"missing: {len(files)} {role} video(s) of split {split!r} have no metadata and are skipped", "missing_metadata")
        return []
    table = _read_csv(meta_path, METADATA_COLUMNS, problems)
    if table is None:
        return []
    rows = []
    described = set()
    for line, record in enumerate(table.to_dict("records"), start=2):
        video_id = str(record["video_id"]).strip()
        if not video_id:
            problems.add(meta_path, f"line {line}", "empty video_id; row skipped", "malformed_row")
            continue
        described.add(video_id)  # a file with a (bad) row is not an orphan
        duration, fps = _number(record["duration_sec"]), _number(record["frames_per_sec"])
        width, height = _number(record["width"], True), _number(record["height"], True)
        bad = [name for name, v in (("duration_sec", duration), ("frames_per_sec", fps), ("width", width), ("height", height)) if v is None]
        if bad:
            values = ", ".join(f"{b}={record[b]!r}" for b in bad)
            problems.add(meta_path, video_id, f"line {line}: invalid {values} (need positive numbers); row skipped", "malformed_row")
            continue
        if video_id in seen:
            problems.add(meta_path, video_id, f"line {line}: duplicate id (first seen in {seen[video_id]}); row skipped, first kept", "duplicate_id")
            continue
        seen[video_id] = f"{meta_path.name} line {line}"
        path = files.get(video_id)
        if path is None:
            problems.add(meta_path, video_id, f"no video file {split}/{role}/{video_id}.mp4; row skipped", "missing_video")
            continue
        rows.append({
            "video_id": video_id, "split": split, "role": role, "path": str(path.resolve()),
            "duration": duration, "fps": fps, "width": int(width), "height": int(height),
        })
    for video_id, path in files.items():
        if video_id not in described:
            problems.add(path, video_id, f"video has no row in {meta_path.name}; skipped", "orphan_video")
    return rows


def _read_ground_truth(root: Path, split: str, queries: set[str], refs: set[str], problems: ProblemLog):
    matching_rows, pair_rows = [], []
    matching_path = root / f"{split}_matching_ground_truth.csv"
    pairs_path = root / f"{split}_descriptor_ground_truth.csv"

    def known(path: Path, line: int, query_id: str, ref_id: str) -> bool:
        unknown = []
        if query_id not in queries:
            unknown.append(f"query_id {query_id!r} is not an indexed {split} query")
        if ref_id not in refs:
            unknown.append(f"ref_id {ref_id!r} is not an indexed {split} reference")
        if unknown:
            problems.add(path, f"{query_id or '?'}/{ref_id or '?'}", f"line {line}: {'; '.join(unknown)}; row skipped", "unknown_id")
        return not unknown

    if matching_path.is_file() and (table := _read_csv(matching_path, MATCHING_COLUMNS, problems)) is not None:
        for line, r in enumerate(table.to_dict("records"), start=2):
            q, ref = str(r["query_id"]).strip(), str(r["ref_id"]).strip()
            try:
                times = [float(r[c]) for c in MATCHING_COLUMNS[2:]]
            except ValueError:
                problems.add(matching_path, f"{q}/{ref}", f"line {line}: non-numeric time; row skipped", "malformed_row")
                continue
            if not all(math.isfinite(t) and t >= 0 for t in times) or times[1] <= times[0] or times[3] <= times[2]:
                problems.add(matching_path, f"{q}/{ref}", f"line {line}: times {times} are not two increasing, non-negative intervals; row skipped", "malformed_row")
                continue
            if known(matching_path, line, q, ref):
                matching_rows.append({"split": split, "query_id": q, "ref_id": ref, **dict(zip(MATCHING_COLUMNS[2:], times))})
    if pairs_path.is_file() and (table := _read_csv(pairs_path, ("query_id", "ref_id"), problems)) is not None:
        for line, r in enumerate(table.to_dict("records"), start=2):
            q, ref = str(r["query_id"]).strip(), str(r["ref_id"]).strip()
            if known(pairs_path, line, q, ref):
                pair_rows.append({"split": split, "query_id": q, "ref_id": ref})
    else:  # the descriptor ground truth is the set of pairs of the matching one
        pair_rows = [{k: m[k] for k in GT_PAIR_COLUMNS} for m in matching_rows]
    return matching_rows, pair_rows


def _read_edits(root: Path, split: str, queries: set[str], problems: ProblemLog) -> list[dict]:
    path = root / f"{split}_query_edits.csv"
    if not path.is_file() or (table := _read_csv(path, ("query_id", "edits"), problems)) is None:
        return []
    rows = []
    for r in table.to_dict("records"):
        if r["query_id"] in queries:
            rows.append({"split": split, "query_id": r["query_id"], "has_copy": str(r.get("has_copy", "")).lower() == "true", "embedded": str(r.get("embedded", "")).lower() == "true", "edits": r["edits"]})
    return rows


def index_vsc_layout(root: str | Path, splits: list[str] | None = None) -> VscIndex:
    """Read and validate a VSC-layout directory (see module docstring)."""
    root = Path(root)
    if not root.exists():
        raise DatasetUnusableError(f"dataset root {root} does not exist")
    if not root.is_dir():
        raise DatasetUnusableError(f"dataset root {root} is not a directory")
    try:
        found = discover_splits(root)
    except OSError as exc:
        raise DatasetUnusableError(f"dataset root {root} cannot be read ({exc})") from exc
    if not found:
        raise DatasetUnusableError(
            f"no metadata in {root}: expected files named {{split}}_query_metadata.csv or "
            f"{{split}}_reference_metadata.csv (e.g. train_query_metadata.csv)"
        )
    if splits:
        absent = [s for s in splits if s not in found]
        if absent:
            raise DatasetUnusableError(f"split(s) {absent} have no metadata in {root}; found {found}")
        found = list(splits)
    problems = ProblemLog()
    seen: dict[str, str] = {}
    videos, matching, pairs, edits = [], [], [], []
    for split in found:
        split_rows = [row for role in ROLES for row in _index_role(root, split, role, seen, problems)]
        videos += split_rows
        queries = {r["video_id"] for r in split_rows if r["role"] == "query"}
        refs = {r["video_id"] for r in split_rows if r["role"] == "reference"}
        m, p = _read_ground_truth(root, split, queries, refs, problems)
        matching += m
        pairs += p
        edits += _read_edits(root, split, queries, problems)
    index = VscIndex(
        videos=pd.DataFrame(videos, columns=INDEX_COLUMNS),
        matching=pd.DataFrame(matching, columns=GT_MATCHING_COLUMNS),
        pairs=pd.DataFrame(pairs, columns=GT_PAIR_COLUMNS).drop_duplicates(ignore_index=True),
        edits=pd.DataFrame(edits, columns=["split", "query_id", "has_copy", "embedded", "edits"]),
        problems=problems,
        splits=found,
        root=root,
    )
    if not videos:
        raise DatasetUnusableError(
            f"no usable video in {root}: every metadata row was rejected (ingest_report.json lists them)", report=ingest_report(index)
        )
    return index


def ingest_report(index: VscIndex) -> dict:
    """The JSON-able ingest report: counts per split and role, and every skipped item."""
    counts = {
        split: {role: int(((index.videos["split"] == split) & (index.videos["role"] == role)).sum()) for role in ROLES}
        for split in index.splits
    }
    for split in index.splits:
        counts[split]["ground_truth_segments"] = int((index.matching["split"] == split).sum())
        counts[split]["ground_truth_pairs"] = int((index.pairs["split"] == split).sum())
    return {
        "root": str(index.root.resolve()),
        "splits": index.splits,
        "counts": counts,
        "n_skipped": len(index.problems.problems),
        "skipped_by_kind": index.problems.by_kind(),
        "skipped": index.problems.records(),
    }
