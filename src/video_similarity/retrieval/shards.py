"""Database frame features in memory-mapped shards, stored as float16 (or int8 with a scale).

FIVR-200K is 226K videos of about 100 frames: 23M rows, 46 GB as 512-d float32. As float16 it is
23 GB on disk (int8: 12 GB), read through memory maps, so a 24 GiB machine holds only the rows it
is comparing. Beside the rows: each video's shard, first row and length, and its video-level
vector (the L2-normalised mean of its float32 rows), which the prefilter scores against.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from video_similarity.atomic import atomic_write

STORAGE = ("float32", "float16", "int8")
INT8_SCALE = 127.0  # rows are unit vectors: every value lies in [-1, 1]
META = "meta.json"  # written last: a folder without it is incomplete


def _l2(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0).astype(np.float32)


def _encode(rows: np.ndarray, storage: str) -> np.ndarray:
    if storage == "int8":
        return np.clip(np.rint(rows * INT8_SCALE), -127, 127).astype(np.int8)
    return rows.astype(storage)


def _save(path: Path, array: np.ndarray) -> None:
    atomic_write(path, lambda handle: np.save(handle, array))


def write_shards(folder: str | Path, videos: Iterable[tuple[str, np.ndarray]], storage: str = "float16", shard_rows: int = 1 << 20) -> dict:
    """Stores ``videos`` ((id, (frames, D) unit rows) pairs, in order) under ``folder``; a summary of what was written.

    A video never spans two shards; a shard closes once it holds ``shard_rows`` rows or more.
    """
    if storage not in STORAGE:
        raise ValueError(f"retrieval.similarity.rerank_storage {storage!r} is not one of {', '.join(STORAGE)}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / META).unlink(missing_ok=True)
    table: list[tuple[str, int, int, int]] = []
    vectors: list[np.ndarray] = []
    pending: list[np.ndarray] = []
    shard, filled = 0, 0

    def close() -> None:
        nonlocal shard, filled, pending
        if pending:
            _save(folder / f"shard_{shard:05d}.npy", np.concatenate(pending))
            shard, filled, pending = shard + 1, 0, []

    for video_id, rows in videos:
        rows = np.asarray(rows, dtype=np.float32)
        table.append((str(video_id), shard, filled, len(rows)))
        vectors.append(_l2(rows.mean(axis=0, dtype=np.float64)))
        pending.append(_encode(rows, storage))
        filled += len(rows)
        if filled >= shard_rows:
            close()
    close()
    dim = int(vectors[0].shape[0]) if vectors else 0
    pd.DataFrame(table, columns=["video_id", "shard", "start", "length"]).to_parquet(folder / "videos.parquet", index=False)
    _save(folder / "video_vectors.npy", np.stack(vectors) if vectors else np.zeros((0, dim), np.float32))
    meta = {"storage": storage, "scale": INT8_SCALE if storage == "int8" else 1.0, "videos": len(table), "rows": int(sum(t[3] for t in table)),
            "dim": dim, "shards": shard}
    atomic_write(folder / META, lambda handle: handle.write(json.dumps(meta, indent=2).encode()))
    return meta


@dataclass(frozen=True)
class FrameShards:
    """The read side: video ids in storage order, their vectors, and their rows on demand (as float32)."""

    folder: Path
    video_ids: list[str]
    shard: np.ndarray
    start: np.ndarray
    length: np.ndarray
    video_vectors: np.ndarray
    scale: float
    arrays: tuple

    @classmethod
    def open(cls, folder: str | Path) -> FrameShards:
        folder = Path(folder)
        if not (folder / META).is_file():
            raise FileNotFoundError(f"{folder}: no complete frame shards here (no {META})")
        meta = json.loads((folder / META).read_text())
        table = pd.read_parquet(folder / "videos.parquet")
        arrays = tuple(np.load(folder / f"shard_{i:05d}.npy", mmap_mode="r") for i in range(meta["shards"]))
        return cls(folder, table["video_id"].astype(str).tolist(), table["shard"].to_numpy(np.int64), table["start"].to_numpy(np.int64),
                   table["length"].to_numpy(np.int64), np.load(folder / "video_vectors.npy"), float(meta["scale"]), arrays)

    def __len__(self) -> int:
        return len(self.video_ids)

    def _decode(self, rows: np.ndarray) -> np.ndarray:
        out = rows.astype(np.float32)
        return out / self.scale if self.scale != 1.0 else out

    def rows(self, i: int) -> np.ndarray:
        """Video ``i``'s frame rows, float32."""
        start = self.start[i]
        return self._decode(self.arrays[self.shard[i]][start : start + self.length[i]])

    def blocks(self, max_rows: int) -> Iterator[tuple[int, int, np.ndarray]]:
        """``(first video, last video + 1, their rows as float32)`` in storage order, about ``max_rows`` rows each (one read per block)."""
        first = 0
        while first < len(self):
            last, total = first, 0
            while last < len(self) and self.shard[last] == self.shard[first] and (last == first or total + self.length[last] <= max_rows):
                total += int(self.length[last])
                last += 1
            start = self.start[first]
            yield first, last, self._decode(self.arrays[self.shard[first]][start : start + total])
            first = last
