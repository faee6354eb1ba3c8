"""Database frame features in shards (.npy files one can memory-map), stored as float16 (or int8 with a scale per row).

FIVR-200K is 226K videos of about 100 frames: 23M rows, 46 GB as 512-d float32. As float16 it is
23 GB on disk (int8: 12 GB). The re-ranking reads it a block at a time into a buffer, so a 24 GiB
machine holds only the rows it is comparing (reading through a map would also count every page
read in the process's resident memory).

Rows are stored less their mean (taken over the first shard) when that round-trips better:
features whose rows all point one way (an untrained network's) differ by less than float16's step
around 1, but their differences from the mean keep their precision; PDQ's +-1/16 values are exact
as they are. Beside the rows: each video's shard, first row and length, and its video-level vector
(the L2-normalised mean of its float32 rows), which the prefilter scores against.
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
META = "meta.json"  # written last: a folder without it is incomplete
FORMAT = 3  # 3: rows less their centre, when that round-trips better (a stamp entry: folders of another format are made again)


def _l2(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0).astype(np.float32)


def _save(path: Path, array: np.ndarray) -> None:
    atomic_write(path, lambda handle: np.save(handle, array))


def _encode(residuals: np.ndarray, storage: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Rows less the centre as ``storage``, and for int8 the float32 scale of each row (None otherwise)."""
    if storage != "int8":
        return residuals.astype(storage), None
    scale = (np.abs(residuals).max(axis=1) / 127.0).astype(np.float32)
    scale[scale == 0] = 1.0
    return np.rint(residuals / scale[:, None]).astype(np.int8), scale


def _decoded(stored: np.ndarray, scale: np.ndarray | None, center: np.ndarray) -> np.ndarray:
    """The float32 rows that :func:`_encode`'s output stands for."""
    out = stored.astype(np.float32)
    if scale is not None:
        out *= scale[:, None]
    out += center
    return out


def _save_shard(folder: Path, shard: int, residuals: np.ndarray, storage: str) -> None:
    """One shard's rows less the centre: as ``storage``; int8 with its scales beside it."""
    stored, scale = _encode(residuals, storage)
    if scale is not None:
        _save(folder / f"shard_{shard:05d}_scale.npy", scale)
    _save(folder / f"shard_{shard:05d}.npy", stored)


def _round_trip_error(rows: np.ndarray, center: np.ndarray, storage: str) -> float:
    return float(np.abs(_decoded(*_encode(rows - center, storage), center) - rows).max(initial=0.0))


def _center(rows: np.ndarray, storage: str) -> np.ndarray:
    """What the rows are stored less of: their mean, unless the rows round-trip better as they are (PDQ's
    +-1/16 values are exact in float16 and int8; less a mean they are not, and its hashes' many tied scores would reorder)."""
    mean = rows.mean(axis=0, dtype=np.float64).astype(np.float32)
    zero = np.zeros_like(mean)
    return zero if _round_trip_error(rows, zero, storage) <= _round_trip_error(rows, mean, storage) else mean


def write_shards(folder: str | Path, videos: Iterable[tuple[str, np.ndarray]], storage: str = "float16", shard_rows: int = 1 << 19) -> dict:
    """Stores ``videos`` ((id, (frames, D) unit rows) pairs, in order) under ``folder``; a summary of what was written.

    A video never spans two shards; a shard closes once it holds ``shard_rows`` rows or more
    (held as float32 until then: 1 GiB at 512-d).
    """
    if storage not in STORAGE:
        raise ValueError(f"retrieval.similarity.rerank_storage {storage!r} is not one of {', '.join(STORAGE)}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / META).unlink(missing_ok=True)
    table: list[tuple[str, int, int, int]] = []
    vectors: list[np.ndarray] = []
    pending: list[np.ndarray] = []
    center: np.ndarray | None = None
    shard, filled = 0, 0

    def close() -> None:
        nonlocal shard, filled, pending, center
        if pending:
            rows = np.concatenate(pending)
            if center is None:
                center = _center(rows, storage)
            _save_shard(folder, shard, rows - center, storage)
            shard, filled, pending = shard + 1, 0, []

    for video_id, rows in videos:
        rows = np.asarray(rows, dtype=np.float32)
        table.append((str(video_id), shard, filled, len(rows)))
        vectors.append(_l2(rows.mean(axis=0, dtype=np.float64)))
        pending.append(rows)
        filled += len(rows)
        if filled >= shard_rows:
            close()
    close()
    dim = int(vectors[0].shape[0]) if vectors else 0
    pd.DataFrame(table, columns=["video_id", "shard", "start", "length"]).to_parquet(folder / "videos.parquet", index=False)
    _save(folder / "video_vectors.npy", np.stack(vectors) if vectors else np.zeros((0, dim), np.float32))
    _save(folder / "center.npy", center if center is not None else np.zeros(dim, np.float32))
    meta = {"storage": storage, "videos": len(table), "rows": int(sum(t[3] for t in table)), "dim": dim, "shards": shard}
    atomic_write(folder / META, lambda handle: handle.write(json.dumps(meta, indent=2).encode()))
    return meta


def _layout(path: Path) -> tuple[Path, np.dtype, int, int]:
    """A shard file's row layout: where its rows start, their type and width (the .npy header read, not the rows)."""
    with open(path, "rb") as handle:
        version = np.lib.format.read_magic(handle)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read_header(handle)
        if fortran or len(shape) != 2:
            raise ValueError(f"{path}: not a shard of (rows, dim) rows")
        return path, dtype, int(shape[1]), handle.tell()


@dataclass(frozen=True)
class FrameShards:
    """The read side: video ids in storage order, their vectors, and their rows on demand (as float32)."""

    folder: Path
    video_ids: list[str]
    shard: np.ndarray
    start: np.ndarray
    length: np.ndarray
    video_vectors: np.ndarray
    center: np.ndarray
    files: tuple  # each shard's (path, dtype, dim, offset of its first row)
    scales: tuple  # int8: each shard's per-row scales, else Nones

    @classmethod
    def open(cls, folder: str | Path) -> FrameShards:
        folder = Path(folder)
        if not (folder / META).is_file():
            raise FileNotFoundError(f"{folder}: no complete frame shards here (no {META})")
        meta = json.loads((folder / META).read_text())
        table = pd.read_parquet(folder / "videos.parquet")
        files = tuple(_layout(folder / f"shard_{i:05d}.npy") for i in range(meta["shards"]))
        scales = tuple(np.load(folder / f"shard_{i:05d}_scale.npy") if meta["storage"] == "int8" else None for i in range(meta["shards"]))
        return cls(folder, table["video_id"].astype(str).tolist(), table["shard"].to_numpy(np.int64), table["start"].to_numpy(np.int64),
                   table["length"].to_numpy(np.int64), np.load(folder / "video_vectors.npy"), np.load(folder / "center.npy"), files, scales)

    def __len__(self) -> int:
        return len(self.video_ids)

    def _decode(self, shard: int, start: int, stop: int) -> np.ndarray:
        """Rows ``[start, stop)`` of a shard, read from the file (not mapped: a process reading 23 GB keeps only its block)."""
        path, dtype, dim, offset = self.files[shard]
        with open(path, "rb") as handle:
            handle.seek(offset + int(start) * dim * dtype.itemsize)
            stored = np.fromfile(handle, dtype=dtype, count=int(stop - start) * dim).reshape(-1, dim)
        scale = self.scales[shard]
        return _decoded(stored, None if scale is None else scale[start:stop], self.center)

    def rows(self, i: int) -> np.ndarray:
        """Video ``i``'s frame rows, float32."""
        return self._decode(self.shard[i], self.start[i], self.start[i] + self.length[i])

    def blocks(self, max_rows: int) -> Iterator[tuple[int, int, np.ndarray]]:
        """``(first video, last video + 1, their rows as float32)`` in storage order, about ``max_rows`` rows each (one read per block)."""
        first = 0
        while first < len(self):
            last, total = first, 0
            while last < len(self) and self.shard[last] == self.shard[first] and (last == first or total + self.length[last] <= max_rows):
                total += int(self.length[last])
                last += 1
            yield first, last, self._decode(self.shard[first], self.start[first], self.start[first] + total)
            first = last
