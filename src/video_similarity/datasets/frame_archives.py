"""A directory of per-video frame archives as one Kedro dataset.

The preprocess node writes archives itself (in parallel worker processes, each
atomically) into the store it *loads*; what it *saves* is the manifest, one row
per video. Loading gives a ``FrameArchiveStore`` that opens archives by id, so
notebooks and later pipelines never build paths by hand.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from kedro.io import AbstractDataset, DatasetError

from video_similarity.atomic import atomic_write
from video_similarity.frames.archive import FrameArchive

MANIFEST = "manifest.parquet"


class FrameArchiveStore:
    """Frame archives under ``root``, listed by the manifest when there is one."""

    def __init__(self, root: str | Path, manifest: pd.DataFrame | None = None):
        self.root = Path(root)
        self.manifest = manifest

    def path(self, video_id: str) -> Path:
        return self.root / f"{video_id}.zip"

    def ids(self) -> list[str]:
        """Ids with a usable archive (manifest order), or every zip when no manifest exists."""
        if self.manifest is not None:
            usable = self.manifest[self.manifest["status"] != "failed"]
            return usable["video_id"].tolist()
        return sorted(p.stem for p in self.root.glob("*.zip")) if self.root.is_dir() else []

    def open(self, video_id: str) -> FrameArchive:
        path = self.path(video_id)
        if not path.is_file():
            raise KeyError(f"no frame archive for {video_id!r} in {self.root}")
        return FrameArchive(path)

    def archives(self, video_index: pd.DataFrame, split: str, role: str | None = None) -> dict[str, str]:
        """{video_id: archive path} for the usable archives of one split (and role), in index order."""
        rows = video_index[video_index["split"] == split]
        if role is not None:
            rows = rows[rows["role"] == role]
        usable = set(self.ids())
        return {v: str(self.path(v)) for v in rows["video_id"] if v in usable}

    def __contains__(self, video_id: str) -> bool:
        return self.path(video_id).is_file()

    def __len__(self) -> int:
        return len(self.ids())

    def __repr__(self) -> str:
        return f"FrameArchiveStore({str(self.root)!r}, {len(self)} archives)"


class FrameArchivesDataset(AbstractDataset[pd.DataFrame, FrameArchiveStore]):
    """``load()`` -> FrameArchiveStore (creates the folder); ``save(manifest)`` writes the manifest."""

    def __init__(self, path: str, metadata: dict[str, Any] | None = None):
        self._path = Path(path)
        self.metadata = metadata

    def load(self) -> FrameArchiveStore:
        self._path.mkdir(parents=True, exist_ok=True)
        manifest_path = self._path / MANIFEST
        manifest = pd.read_parquet(manifest_path) if manifest_path.is_file() else None
        return FrameArchiveStore(self._path, manifest)

    def save(self, data: pd.DataFrame) -> None:
        if not isinstance(data, pd.DataFrame) or "video_id" not in data.columns:
            raise DatasetError(f"{self._path}: expected a manifest DataFrame with a video_id column")
        atomic_write(self._path / MANIFEST, lambda handle: data.to_parquet(handle, index=False))

    def _exists(self) -> bool:
        return (self._path / MANIFEST).is_file()

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path)}
