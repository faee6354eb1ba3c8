"""Local pretrained-weight files, named in the catalog (nothing is ever downloaded)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset, DatasetError


class WeightFilesDataset(AbstractDataset[None, dict]):
    """``load()`` -> {name: absolute path}; every named file must exist.

    Models refer to these names (``weights: resnet50_imagenet``) so that a
    checkpoint's location lives in the catalog, not in parameters or code.
    """

    def __init__(self, files: dict[str, str] | None = None, metadata: dict[str, Any] | None = None):
        self._files = dict(files or {})
        self.metadata = metadata

    def load(self) -> dict[str, str]:
        missing = {name: path for name, path in self._files.items() if not Path(path).is_file()}
        if missing:
            raise DatasetError(
                "pretrained weight file(s) not found: "
                + ", ".join(f"{name} -> {path}" for name, path in missing.items())
                + " (put the files there or fix the paths in the catalog entry pretrained_weights)"
            )
        return {name: str(Path(path).resolve()) for name, path in self._files.items()}

    def save(self, data) -> None:
        raise DatasetError("pretrained weights are read-only: name local files in the catalog")

    def _describe(self) -> dict[str, Any]:
        return {"files": self._files}
