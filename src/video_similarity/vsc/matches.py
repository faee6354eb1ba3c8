"""The VSC-2022 matching track's table of segment matches: predictions and ground truth.

One row per matched segment pair ``query_id,ref_id,query_start,query_end,ref_start,ref_end,score``
(times in seconds). The official evaluator only asserts "no NaN" and then divides by zero or
scores nonsense on a bad row, so every file is checked here first and a bad row is refused with
one line naming the file and the row (row N = the N-th data row after the header).
"""

from __future__ import annotations

import os
from collections.abc import Collection
from pathlib import Path

import numpy as np
import pandas as pd

from video_similarity.atomic import atomic_write
from video_similarity.errors import read_csv_named

#: The challenge's submission validator wants exactly this column order.
MATCH_COLUMNS = ["query_id", "ref_id", "query_start", "query_end", "ref_start", "ref_end", "score"]
SEGMENT_COLUMNS = MATCH_COLUMNS[:6]
ID_COLUMNS = ["query_id", "ref_id"]
TIME_COLUMNS = SEGMENT_COLUMNS[2:]
AXES = [("query_start", "query_end"), ("ref_start", "ref_end")]


class MatchError(ValueError):
    """A match table the evaluator must not score: the message names the file and the row."""


def _first(bad: np.ndarray) -> int | None:
    """Position of the first row flagged in ``bad``, None if none is."""
    rows = np.flatnonzero(bad)
    return int(rows[0]) if len(rows) else None


def _row_error(source: str, ids: pd.DataFrame, bad: np.ndarray, i: int, what: str) -> MatchError:
    """``<source>: row <i + 1> (<query> / <ref>): <what>``, counting the other bad rows."""
    others = int(np.count_nonzero(bad)) - 1
    more = f" (and {others} more row(s))" if others else ""
    q, r = ids["query_id"].iat[i], ids["ref_id"].iat[i]
    return MatchError(f"{source}: row {i + 1} ({q} / {r}): {what}{more}")


def _numbers(source: str, df: pd.DataFrame, ids: pd.DataFrame, column: str) -> np.ndarray:
    """The column as float64; a blank, non-numeric or infinite value is refused."""
    raw = df[column].reset_index(drop=True)
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(values)
    if (i := _first(bad)) is not None:
        value = raw.iat[i]
        if pd.isna(value):
            what = f"{column} is missing (blank or NaN)"
        else:
            what = f"{column} {value if isinstance(value, str) else float(value)!r} is not a finite number"
        raise _row_error(source, ids, bad, i, what)
    return values


def validate_matches(
    df: pd.DataFrame,
    *,
    source: str,
    ground_truth: bool = False,
    query_ids: Collection[str] | None = None,
    ref_ids: Collection[str] | None = None,
) -> pd.DataFrame:
    """A checked copy with exactly MATCH_COLUMNS: ids str, times and score float64, index 0..n-1.

    Ground truth needs no score column; it gets score 1.0 whatever it had (as the official
    reader), and extra columns (e.g. ``split``) are dropped. Refused with a :class:`MatchError`:
    missing columns, blank ids, blank / non-numeric / infinite numbers, negative times,
    start > end or start == end on either axis, and ids outside ``query_ids`` / ``ref_ids``
    when these are given.
    """
    required = SEGMENT_COLUMNS if ground_truth else MATCH_COLUMNS
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise MatchError(f"{source}: missing column(s) {missing}; the header has {list(df.columns)}")

    ids = df[ID_COLUMNS].reset_index(drop=True)
    for column in ID_COLUMNS:
        bad = ids[column].isna().to_numpy() | (ids[column].astype(str).str.strip() == "").to_numpy()
        if (i := _first(bad)) is not None:
            raise _row_error(source, ids, bad, i, f"{column} is blank")
    ids = ids.astype(str)

    out = ids.copy()
    for column in TIME_COLUMNS:
        out[column] = _numbers(source, df, ids, column)
    out["score"] = 1.0 if ground_truth else _numbers(source, df, ids, "score")
    out["score"] = out["score"].astype(np.float64)

    for column in TIME_COLUMNS:
        v = out[column].to_numpy()
        if (i := _first(bad := v < 0)) is not None:
            raise _row_error(source, ids, bad, i, f"{column} {float(v[i])!r} is negative")
    for start, end in AXES:
        s, e = out[start].to_numpy(), out[end].to_numpy()
        if (i := _first(bad := s > e)) is not None:
            raise _row_error(source, ids, bad, i, f"{start} {float(s[i])!r} > {end} {float(e[i])!r}")
        if (i := _first(bad := s == e)) is not None:
            raise _row_error(source, ids, bad, i, f"zero-length segment: {start} == {end} == {float(s[i])!r}")

    for column, known in (("query_id", query_ids), ("ref_id", ref_ids)):
        if known is not None:
            bad = ~out[column].isin({str(k) for k in known}).to_numpy()
            if (i := _first(bad)) is not None:
                raise _row_error(source, ids, bad, i, f"unknown {column} {out[column].iat[i]!r}")
    return out[MATCH_COLUMNS]


def read_matches(
    path: str | os.PathLike,
    *,
    ground_truth: bool = False,
    query_ids: Collection[str] | None = None,
    ref_ids: Collection[str] | None = None,
) -> pd.DataFrame:
    """Read and check a matches CSV (see :func:`validate_matches`); an unreadable file is a MatchError."""
    df = read_csv_named(path, f"a CSV with header {','.join(MATCH_COLUMNS)}", MatchError, dtype={"query_id": str, "ref_id": str},
                        float_precision="round_trip")
    return validate_matches(df, source=str(path), ground_truth=ground_truth, query_ids=query_ids, ref_ids=ref_ids)


def write_matches(df: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Check ``df`` and write it atomically as a CSV in MATCH_COLUMNS order (floats round-trip)."""
    checked = validate_matches(df, source=str(path))
    data = checked.to_csv(index=False, lineterminator="\n").encode()
    return atomic_write(path, lambda handle: handle.write(data))
