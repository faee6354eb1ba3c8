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

import csv
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


def _read_csv(path: Path, required: tuple[str, ...], problems: ProblemLog) -> list[tuple[int, dict]] | None:
    """(line number, row) of every well-formed row; a row with the wrong number of fields is one problem, not a shift.

    (pandas would shift every following row by a stray extra field.)
    """
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle, skipinitialspace=True)
            header = [c.strip() for c in next(reader, [])]
            if not header:
                problems.add(path, "file", "empty (no header); file skipped", "unreadable_file")
                return None
            missing = [c for c in required if c not in header]
            if missing:
                problems.add(path, "file", f"missing column(s) {missing} (has {header}); file skipped", "bad_header")
                return None
            rows = []
            for row in reader:
                if not any(field.strip() for field in row):
                    continue  # a blank line
                if len(row) != len(header):
                    problems.add(path, f"line {reader.line_num}", f"{len(row)} fields where the header has {len(header)}; row skipped", "malformed_row")
                    continue
                rows.append((reader.line_num, {k: v.strip() for k, v in zip(header, row)}))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        problems.add(path, "file", f"cannot be read as CSV ({exc}); file skipped", "unreadable_file")
        return None
    return rows


def _number(value: str, integer: bool = False) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(number) or number <= 0 or (integer and number != int(number)):
        return None
    return number


def _video_files(folder: Path, problems: ProblemLog) -> dict[str, Path]:
    """{video id: file}; of two files for one id, the .mp4 (what VSC metadata implies), and the ambiguity is reported."""
    if not folder.is_dir():
        return {}
    by_id: dict[str, list[Path]] = {}
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() in VIDEO_EXTENSIONS and path.is_file():
            by_id.setdefault(path.stem, []).append(path)
    files = {}
    for video_id, paths in by_id.items():
        chosen = next((p for p in paths if p.suffix.lower() == ".mp4"), paths[0])
        if len(paths) > 1:
            names = ", ".join(p.name for p in paths)
            problems.add(folder, video_id, f"{len(paths)} files for one id ({names}): {chosen.name} used", "ambiguous_video")
        files[video_id] = chosen
    return files


def _candidate_rows(root: Path, split: str, role: str, problems: ProblemLog) -> list[dict]:
    """Every well-formed metadata row of one split and role, with its video file or None (duplicates resolved later)."""
    meta_path = root / f"{split}_{role}_metadata.csv"
    files = _video_files(root / split / role, problems)
    if not meta_path.is_file():
        if files:
            problems.add(meta_path, "file", f"missing: {len(files)} {role} video(s) of split {split!r} have no metadata and are skipped", "missing_metadata")
        return []
    table = _read_csv(meta_path, METADATA_COLUMNS, problems)
    if table is None:
        return []
    rows = []
    described = set()
    for line, record in table:
        video_id = record["video_id"]
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
        path = files.get(video_id)
        rows.append({
            "video_id": video_id, "split": split, "role": role, "path": str(path.resolve()) if path else None,
            "duration": duration, "fps": fps, "width": int(width), "height": int(height), "source": f"{meta_path.name} line {line}",
            "meta_path": meta_path,
        })
    for video_id, path in files.items():
        if video_id not in described:
            problems.add(path, video_id, f"video has no row in {meta_path.name}; skipped", "orphan_video")
    return rows


def _resolve(candidates: list[dict], problems: ProblemLog) -> list[dict]:
    """One row per id: the first that has its video file (else the first); every other row of the id is reported with the kept one."""
    by_id: dict[str, list[dict]] = {}
    for row in candidates:
        by_id.setdefault(row["video_id"], []).append(row)
    kept = []
    for video_id, rows in by_id.items():
        winner = next((r for r in rows if r["path"]), rows[0])
        for row in rows:
            if row is winner:
                continue
            why = "" if row["path"] or not winner["path"] else " (this row has no video file, the kept one has)"
            problems.add(row["meta_path"], video_id, f"{row['source']}: duplicate id, also in {winner['source']}, which is kept{why}; row skipped", "duplicate_id")
        if not winner["path"]:
            problems.add(winner["meta_path"], video_id, f"{winner['source']}: no video file {winner['split']}/{winner['role']}/{video_id}.mp4; row skipped", "missing_video")
            continue
        kept.append(winner)
    order = {id(r): i for i, r in enumerate(candidates)}
    return [{k: v for k, v in r.items() if k in INDEX_COLUMNS} for r in sorted(kept, key=lambda r: order[id(r)])]


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

    def first_time(path: Path, line: int, key: tuple, seen: dict, item: str) -> bool:
        if key in seen:
            problems.add(path, item, f"line {line}: the same row as line {seen[key]}; counted once", "duplicate_row")
            return False
        seen[key] = line
        return True

    if matching_path.is_file() and (table := _read_csv(matching_path, MATCHING_COLUMNS, problems)) is not None:
        seen: dict = {}
        for line, r in table:
            q, ref = r["query_id"], r["ref_id"]
            try:
                times = [float(r[c]) for c in MATCHING_COLUMNS[2:]]
            except ValueError:
                problems.add(matching_path, f"{q}/{ref}", f"line {line}: non-numeric time; row skipped", "malformed_row")
                continue
            if not all(math.isfinite(t) and t >= 0 for t in times) or times[1] <= times[0] or times[3] <= times[2]:
                problems.add(matching_path, f"{q}/{ref}", f"line {line}: times {times} are not two increasing, non-negative intervals; row skipped", "malformed_row")
                continue
            if known(matching_path, line, q, ref) and first_time(matching_path, line, (q, ref, *times), seen, f"{q}/{ref}"):
                matching_rows.append({"split": split, "query_id": q, "ref_id": ref, **dict(zip(MATCHING_COLUMNS[2:], times))})
    if pairs_path.is_file() and (table := _read_csv(pairs_path, ("query_id", "ref_id"), problems)) is not None:
        seen = {}
        for line, r in table:
            q, ref = r["query_id"], r["ref_id"]
            if known(pairs_path, line, q, ref) and first_time(pairs_path, line, (q, ref), seen, f"{q}/{ref}"):
                pair_rows.append({"split": split, "query_id": q, "ref_id": ref})
    else:  # the descriptor ground truth is the set of pairs of the matching one
        pair_rows = [{k: m[k] for k in GT_PAIR_COLUMNS} for m in matching_rows]
    return matching_rows, pair_rows


def _read_edits(root: Path, split: str, queries: set[str], problems: ProblemLog) -> list[dict]:
    path = root / f"{split}_query_edits.csv"
    if not path.is_file() or (table := _read_csv(path, ("query_id", "edits"), problems)) is None:
        return []
    rows = []
    for _, r in table:
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
    videos = _resolve([row for split in found for role in ROLES for row in _candidate_rows(root, split, role, problems)], problems)
    matching, pairs, edits = [], [], []
    for split in found:
        split_rows = [r for r in videos if r["split"] == split]
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
