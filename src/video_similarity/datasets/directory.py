"""A folder that a node fills itself (models, per-video embeddings) as one Kedro dataset.

Like ``FrameArchivesDataset``: a node *loads* the folder (a ``Directory``: its
path plus the last manifest, created if missing) to write into it, and *saves* a
manifest (JSON-able dict) naming what it wrote; later nodes load that.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset, DatasetError

from video_similarity.atomic import atomic_write

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class Directory:
    path: Path
    manifest: dict | None

    def __truediv__(self, name: str) -> Path:
        return self.path / name


class DirectoryDataset(AbstractDataset[dict, Directory]):
    def __init__(self, path: str, metadata: dict[str, Any] | None = None):
        self._path = Path(path)
        self.metadata = metadata

    def load(self) -> Directory:
        self._path.mkdir(parents=True, exist_ok=True)
        manifest_path = self._path / MANIFEST
        manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else None
        return Directory(self._path, manifest)

    def save(self, data: dict) -> None:
        if not isinstance(data, dict):
            raise DatasetError(f"{self._path}: expected a JSON-able manifest dict, got {type(data).__name__}")
        text = json.dumps(data, indent=2, default=str).encode()
        atomic_write(self._path / MANIFEST, lambda handle: handle.write(text))

    def _exists(self) -> bool:
        return (self._path / MANIFEST).is_file()

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path)}
