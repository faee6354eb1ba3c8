"""The rank-1's two query boosters, on descriptors: scene parts as extra frames, and suppressed queries.

* Scene parts (frame scene detection, :mod:`video_similarity.frames.scene_layout`):
  each part of a query's layout is a frame archive of its own (same timestamps),
  embedded like any query; :func:`merge_parts` puts the parts' rows after the
  query's own rows, under the query's id (the budget is then kept by
  :func:`video_similarity.vsc.dedup.fit_budget`).
* Suppression (the video-score model): a query rated unlikely to hold a copy
  keeps one tiny random descriptor, and score normalisation gives it a bias of
  -100 (:func:`suppress`), so none of its pairs can rank among real candidates.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from video_similarity.descriptors import Descriptors

PART = "~p"  # part archive ids: <query id>~p<k>
TINY = 1e-5  # half-width of the suppressed queries' random descriptor


def part_id(video_id: str, index: int) -> str:
    return f"{video_id}{PART}{index}"


def parent_id(part: str) -> str:
    """The query a part archive id belongs to (the id itself when it is no part)."""
    head, sep, tail = part.rpartition(PART)
    return head if sep and tail.isdigit() else part


@dataclass(frozen=True)
class MergedParts:
    descriptors: Descriptors
    part_rows: int  # part descriptors kept
    dropped: int  # part descriptors dropped to stay within the budget
    dropped_videos: tuple[str, ...]


def merge_parts(whole: Descriptors, parts: Descriptors, replace: bool = False) -> MergedParts:
    """Each query's own rows, then its parts' rows (relabelled with the query's id), in the queries' order.

    Parts of a query without rows of its own are ignored (it failed upstream).
    ``replace``: a query with parts keeps as many rows as it had: its parts'
    rows take the places first (evenly sampled when there are more), its own
    frames (evenly sampled) fill what is left, and are written before the
    parts. Otherwise every part row is added (the caller fits the budget).
    """
    owners = np.asarray([parent_id(v) for v in parts.video_ids])
    order = list(dict.fromkeys(whole.video_ids.tolist()))
    known = set(order)
    rows: dict[str, list[int]] = {}
    for i, owner in enumerate(owners.tolist()):
        if owner in known:
            rows.setdefault(owner, []).append(i)
    whole_rows = {v: [] for v in order}
    for i, v in enumerate(whole.video_ids.tolist()):
        whole_rows[v].append(i)
    offered = sum(len(r) for r in rows.values())
    dropped_videos: set[str] = set()
    if replace:
        for v, extra in rows.items():
            own = whole_rows[v]
            if len(extra) > len(own):
                rows[v] = [extra[i] for i in _even(len(extra), len(own))]
                dropped_videos.add(v)
            whole_rows[v] = [own[i] for i in _even(len(own), len(own) - len(rows[v]))]
    ids, stamps, feats = [], [], []
    whole_ts, part_ts = np.asarray(whole.timestamps), np.asarray(parts.timestamps)
    for v in order:
        own, extra = whole_rows[v], rows.get(v, [])
        ids += [v] * (len(own) + len(extra))
        stamps += [whole_ts[own]] + ([part_ts[extra]] if extra else [])
        feats += [whole.features[own]] + ([parts.features[extra]] if extra else [])
    kept = sum(len(r) for r in rows.values())
    merged = Descriptors(np.asarray(ids), np.concatenate(stamps) if stamps else whole_ts[:0], np.concatenate(feats) if feats else whole.features[:0])
    return MergedParts(merged, kept, int(offered - kept), tuple(sorted(dropped_videos)))


def _even(n: int, k: int) -> list[int]:
    """``k`` of ``range(n)``, evenly spread, in order."""
    if k <= 0:
        return []
    if k >= n:
        return list(range(n))
    return sorted({int(np.floor(x + 0.5)) for x in np.linspace(0, n - 1, k)})  # spacing >= 1: all distinct


def suppress(descriptors: Descriptors, video_ids: set[str]) -> tuple[Descriptors, np.ndarray]:
    """Replace each suppressed query's rows by one tiny random descriptor over [0, 1]; the rows to bias by -100.

    The random descriptor is seeded by the video id, so a rerun writes the same file.
    """
    if not video_ids:
        return descriptors, np.zeros(len(descriptors), dtype=bool)
    dim = descriptors.features.shape[1]
    ids, stamps, feats, low = [], [], [], []
    timestamps = np.asarray(descriptors.timestamps)
    for video, start, end in descriptors.video_groups():
        if video in video_ids:
            rng = np.random.default_rng(zlib.crc32(video.encode()))
            ids.append([video])
            stamps.append(np.asarray([[0.0, 1.0]], dtype=timestamps.dtype) if timestamps.ndim == 2 else np.asarray([0.0], timestamps.dtype))
            feats.append(rng.uniform(-TINY, TINY, (1, dim)).astype(descriptors.features.dtype))
            low.append([True])
        else:
            ids.append(descriptors.video_ids[start:end].tolist())
            stamps.append(timestamps[start:end])
            feats.append(descriptors.features[start:end])
            low.append([False] * (end - start))
    flat = [v for chunk in ids for v in chunk]
    return (
        Descriptors(np.asarray(flat), np.concatenate(stamps), np.concatenate(feats)),
        np.asarray([x for chunk in low for x in chunk], dtype=bool),
    )
