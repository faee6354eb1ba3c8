"""The VSC-2022 descriptor file: one ``.npz`` per side (query, reference).

Keys ``video_ids`` (N,), ``timestamps`` (N, 2) or (N,), ``features`` (N, D) float32, rows
grouped by video (runs of equal consecutive ids). The evaluator and the challenge's
validator both read exactly this, so everything we score goes through it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from video_similarity.atomic import atomic_write

KEYS = ("video_ids", "timestamps", "features")
MAX_DIM = 512


class SubmissionError(ValueError):
    """A descriptor file that the challenge's validator would reject."""


@dataclass
class Descriptors:
    """Per-row video id, timestamp(s) and feature vector, kept as given (validate separately)."""

    video_ids: np.ndarray
    timestamps: np.ndarray
    features: np.ndarray

    def __post_init__(self) -> None:
        self.video_ids = np.asarray(self.video_ids)
        if self.video_ids.dtype.kind != "U":
            self.video_ids = self.video_ids.astype(str)
        self.timestamps = np.asarray(self.timestamps)
        self.features = np.asarray(self.features)

    def __len__(self) -> int:
        return len(self.video_ids)

    @property
    def dim(self) -> int:
        return int(self.features.shape[1]) if self.features.ndim == 2 else 0

    def video_groups(self) -> list[tuple[str, int, int]]:
        """(video_id, start_row, end_row) for each run of equal consecutive ids, in file order."""
        return video_groups(self.video_ids)


def video_groups(video_ids: np.ndarray) -> list[tuple[str, int, int]]:
    """Runs of equal consecutive ids, as the official loader groups rows into videos."""
    ids = np.asarray(video_ids)
    n = len(ids)
    if n == 0:
        return []
    starts = np.concatenate([[0], np.flatnonzero(ids[1:] != ids[:-1]) + 1])
    ends = np.concatenate([starts[1:], [n]])
    return [(str(ids[s]), int(s), int(e)) for s, e in zip(starts, ends)]


def load_descriptors(path: str | os.PathLike) -> Descriptors:
    """Read a descriptor ``.npz``; a missing file or key raises with the file named."""
    path = Path(path)
    try:
        data = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise SubmissionError(f"{path}: descriptor file not found") from None
    except (OSError, ValueError) as exc:
        raise SubmissionError(f"{path}: not a readable .npz descriptor file ({exc})") from None
    if not hasattr(data, "files"):  # a .npy array, not an .npz archive
        raise SubmissionError(f"{path}: expected an .npz archive with keys {list(KEYS)}, got a single array")
    with data:
        missing = [k for k in KEYS if k not in data.files]
        if missing:
            raise SubmissionError(
                f"{path}: missing key(s) {missing}; found {sorted(data.files)}, need {list(KEYS)}"
            )
        try:
            arrays = {k: data[k] for k in KEYS}
        except ValueError as exc:  # object arrays need pickle, which we refuse
            raise SubmissionError(f"{path}: cannot read arrays ({exc})") from None
    return Descriptors(**arrays)


def save_descriptors(path: str | os.PathLike, d: Descriptors) -> None:
    """Write ``d`` with ``np.savez``, atomically, so readers never see half a file."""
    atomic_write(path, lambda fh: np.savez(fh, video_ids=d.video_ids, timestamps=d.timestamps, features=d.features))


def _check_side(d: Descriptors, side: str, durations: Mapping[str, float] | None, max_dim: int):
    n = len(d.video_ids)
    if d.video_ids.ndim != 1:
        raise SubmissionError(f"{side}: video_ids must be 1-D, got shape {d.video_ids.shape}")
    if d.features.ndim != 2:
        raise SubmissionError(f"{side}: features must be 2-D (N, D), got shape {d.features.shape}")
    if d.features.dtype != np.float32:
        raise SubmissionError(f"{side}: features must be float32, got {d.features.dtype}")
    if d.features.shape[1] > max_dim:
        raise SubmissionError(
            f"{side}: descriptor dimension {d.features.shape[1]} exceeds the limit {max_dim}"
        )
    ts = d.timestamps
    if len(d.features) != n or ts.ndim == 0 or len(ts) != n:
        raise SubmissionError(
            f"{side}: video_ids, timestamps and features must have equal length; got "
            f"{n}, {ts.shape[0] if ts.ndim else 'scalar'}, {len(d.features)}"
        )
    if not (ts.ndim == 1 or ts.shape[1:] == (2,)):
        raise SubmissionError(f"{side}: timestamps must be (N,) or (N, 2), got {ts.shape}")
    if n > 1 and not np.all(d.video_ids[:-1] <= d.video_ids[1:]):
        bad = int(np.flatnonzero(d.video_ids[:-1] > d.video_ids[1:])[0])
        raise SubmissionError(
            f"{side}: video_ids must be sorted; row {bad + 1} ({d.video_ids[bad + 1]!r}) "
            f"follows {d.video_ids[bad]!r}"
        )
    if not np.isfinite(d.features).all():
        rows = np.flatnonzero(~np.isfinite(d.features).all(axis=1))
        raise SubmissionError(
            f"{side}: features contain non-finite values (NaN/inf) in {len(rows)} row(s), "
            f"first row {int(rows[0])}"
        )
    if durations is not None:
        budget = sum(math.ceil(float(v)) for v in durations.values())
        if n > budget:
            raise SubmissionError(
                f"{side}: {n} descriptors exceed the budget of {budget} "
                f"(sum of ceil(duration_sec) over {len(durations)} videos)"
            )


def validate_submission(
    query: Descriptors,
    reference: Descriptors,
    query_durations: Mapping[str, float] | None = None,
    reference_durations: Mapping[str, float] | None = None,
    max_dim: int = MAX_DIM,
) -> None:
    """Apply the challenge validator's rules; raise ``SubmissionError`` naming side and rule.

    The descriptor budget is global per file (sum of ceil(duration) over the durations given),
    not per video, exactly as the validator counted it.
    """
    _check_side(query, "query", query_durations, max_dim)
    _check_side(reference, "reference", reference_durations, max_dim)
    if query.dim != reference.dim:
        raise SubmissionError(
            f"query and reference descriptor dimensions differ: {query.dim} vs {reference.dim}"
        )


def l2_normalize(x: np.ndarray) -> np.ndarray:
    """Rows to unit length, computed in the input's precision, returned as float32 (the descriptor stages'
    and the video transformer's views; the similarity engine and score normalisation keep the exact
    float32 arithmetic of the evaluators they reproduce)."""
    return (x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)).astype(np.float32)


def row_spans(timestamps: np.ndarray) -> np.ndarray:
    """(N, 2) start / end seconds of each row: (N, 2) timestamps as they are; 1-D ones last until the next row (the last as long as its predecessor)."""
    ts = np.asarray(timestamps, dtype=np.float64)
    if ts.ndim == 2:
        return ts[:, :2]
    step = np.diff(ts) if len(ts) > 1 else np.ones(1)
    return np.stack([ts, ts + np.r_[step, step[-1:]]], axis=1)


def select(descriptors: Descriptors, video_ids) -> Descriptors:
    """The rows of the given videos."""
    mask = np.isin(descriptors.video_ids, list(video_ids))
    return Descriptors(descriptors.video_ids[mask], np.asarray(descriptors.timestamps)[mask], descriptors.features[mask])
