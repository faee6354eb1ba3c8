"""Per-video features of one encoder, read from its cache folder (items of the one cache rule)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from video_similarity.cache import read_item


def iter_features(folder: str | Path, video_ids, absent: list[str], min_rows: int = 1) -> Iterator[tuple[str, np.ndarray]]:
    """``(video_id, features)`` of ``video_ids`` that exist with at least ``min_rows`` rows, one item read at a time; the others appended to ``absent``."""
    for video_id in video_ids:
        item = read_item(folder, video_id)
        array = None if item is None else item["features"]
        if array is None or array.ndim != 2 or len(array) < min_rows:
            absent.append(video_id)
            continue
        yield video_id, array.astype(np.float32, copy=False)


def load_features(folder: str | Path, video_ids, min_rows: int = 1) -> tuple[dict[str, np.ndarray], list[str]]:
    """Features of ``video_ids`` that exist with at least ``min_rows`` rows, and the ids that do not."""
    absent: list[str] = []
    features = dict(iter_features(folder, video_ids, absent, min_rows))
    return features, absent
