"""Per-video frame archives as Kedro datasets: the folder preprocess fills, and its manifest.

``FrameArchivesDataset`` is the folder: the preprocess node loads it (a
``FrameArchiveStore`` over whatever zips are there) and writes archives into
it, in parallel worker processes, each atomically. What it *outputs* is the
manifest, one row per video (``FrameArchiveManifestDataset``, a parquet file
beside the folder); loading the manifest gives a ``FrameArchiveStore`` that
opens archives by id, so notebooks and later pipelines never build paths by
hand and depend on preprocess through the catalog.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from kedro.io import AbstractDataset, DatasetError

from video_similarity.atomic import atomic_write
from video_similarity.datasets.directory import DirectoryDataset
from video_similarity.frames.archive import FrameArchive


class FrameArchiveStore:
    """Frame archives under ``root``; with a manifest, the videos it lists as usable, at the paths it names."""

    def __init__(self, root: str | Path | None, manifest: pd.DataFrame | None = None):
        self.root = Path(root) if root is not None else None
        self.manifest = manifest
        self._paths = (
            {v: Path(p) for v, p, s in zip(manifest["video_id"], manifest["archive"], manifest["status"]) if s != "failed" and p}
            if manifest is not None and "archive" in manifest.columns else None
        )

    @classmethod
    def from_manifest(cls, manifest: pd.DataFrame) -> "FrameArchiveStore":
        return cls(None, manifest)

    def path(self, video_id: str) -> Path:
        if self._paths is not None and video_id in self._paths:
            return self._paths[video_id]
        if self.root is None:
            raise KeyError(f"no frame archive for {video_id!r} in the manifest")
        return self.root / f"{video_id}.zip"

    def ids(self) -> list[str]:
        """Ids with a usable archive (manifest order), or every zip when no manifest exists."""
        if self.manifest is not None:
            usable = self.manifest[self.manifest["status"] != "failed"]
            return usable["video_id"].tolist()
        return sorted(p.stem for p in self.root.glob("*.zip")) if self.root is not None and self.root.is_dir() else []

    def open(self, video_id: str) -> FrameArchive:
        try:
            path = self.path(video_id)
        except KeyError:
            path = None
        if path is None or not path.is_file():
            raise KeyError(f"no frame archive for {video_id!r} in {self.root or 'the manifest'}")
        return FrameArchive(path)

    def archives(self, video_index: pd.DataFrame, split: str, role: str | None = None) -> dict[str, str]:
        """{video_id: archive path} for the usable archives of one split (and role), in index order."""
        rows = video_index[video_index["split"] == split]
        if role is not None:
            rows = rows[rows["role"] == role]
        usable = set(self.ids())
        return {v: str(self.path(v)) for v in rows["video_id"] if v in usable}

    def __contains__(self, video_id: str) -> bool:
        try:
            return self.path(video_id).is_file()
        except KeyError:
            return False

    def __len__(self) -> int:
        return len(self.ids())

    def __repr__(self) -> str:
        return f"FrameArchiveStore({str(self.root or 'manifest')!r}, {len(self)} archives)"


class FrameArchivesDataset(DirectoryDataset):
    """The archive folder: ``load()`` -> FrameArchiveStore (creates the folder); preprocess fills it."""

    def load(self) -> FrameArchiveStore:
        return FrameArchiveStore(super().load().path)

    def save(self, data) -> None:
        raise DatasetError(f"{self._path}: preprocess fills this folder; its manifest is the catalog entry frame_archives")


class FrameArchiveManifestDataset(AbstractDataset[pd.DataFrame, FrameArchiveStore]):
    """The manifest (parquet): ``save(DataFrame)`` writes it; ``load()`` -> the FrameArchiveStore it describes."""

    def __init__(self, filepath: str, metadata: dict[str, Any] | None = None):
        self._filepath = Path(filepath)
        self.metadata = metadata

    def load(self) -> FrameArchiveStore:
        if not self._filepath.is_file():
            raise DatasetError(f"{self._filepath}: no frame archive manifest; run `kedro run --pipeline=preprocess` first")
        return FrameArchiveStore.from_manifest(pd.read_parquet(self._filepath))

    def save(self, data: pd.DataFrame) -> None:
        if not isinstance(data, pd.DataFrame) or not {"video_id", "status", "archive"} <= set(data.columns):
            raise DatasetError(f"{self._filepath}: expected a manifest DataFrame with video_id, status and archive columns")
        atomic_write(self._filepath, lambda handle: data.to_parquet(handle, index=False))

    def _exists(self) -> bool:
        return self._filepath.is_file()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath)}
