"""A folder that a node fills itself (models, per-video embeddings, similarity files) as a Kedro dataset.

The node that fills it *loads* it (a ``Directory``: the folder's path, created
if missing) and writes files into it, often from a torchrun job; what it made
is its output: a manifest, which is its own catalog entry (a JSON file beside
the folder) that later nodes read. So each folder is one catalog entry and
each node writes only the datasets it outputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset, DatasetError


@dataclass(frozen=True)
class Directory:
    path: Path

    def __truediv__(self, name: str) -> Path:
        return self.path / name


class DirectoryDataset(AbstractDataset[None, Directory]):
    def __init__(self, path: str, metadata: dict[str, Any] | None = None):
        self._path = Path(path)
        self.metadata = metadata

    def load(self) -> Directory:
        self._path.mkdir(parents=True, exist_ok=True)
        return Directory(self._path)

    def save(self, data) -> None:
        raise DatasetError(f"{self._path}: a folder the node that loads it fills; its manifest is a catalog entry of its own")

    def _exists(self) -> bool:
        return self._path.is_dir()

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path)}
