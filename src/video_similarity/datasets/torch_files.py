"""Files the training jobs write, as catalog entries to read in notebooks: TorchScript exports and checkpoints."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset, DatasetError


class TorchScriptDataset(AbstractDataset[Any, Any]):
    """``load()`` -> the scripted module on CPU, in eval mode; ``save(module)`` writes it atomically."""

    def __init__(self, filepath: str, metadata: dict[str, Any] | None = None):
        self._filepath = Path(filepath)
        self.metadata = metadata

    def load(self):
        import torch

        if not self._filepath.is_file():
            raise DatasetError(f"{self._filepath}: no TorchScript file yet (run the pipeline that trains it)")
        return torch.jit.load(str(self._filepath), map_location="cpu").eval()

    def save(self, module) -> None:
        import torch

        from video_similarity.atomic import atomic_path

        self._filepath.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(self._filepath) as tmp:
            torch.jit.save(module, str(tmp))

    def _exists(self) -> bool:
        return self._filepath.is_file()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath)}


class CheckpointDataset(AbstractDataset[None, Any]):
    """``load()`` -> the :class:`~video_similarity.models.checkpoint.Checkpoint` (format 3) of ``kind``; read-only.

    Only the training jobs write checkpoints (after every epoch, resumable);
    an older format or another kind is a clear error naming the file.
    """

    def __init__(self, filepath: str, kind: str | None = None, metadata: dict[str, Any] | None = None):
        self._filepath, self._kind = Path(filepath), kind
        self.metadata = metadata

    def load(self):
        from video_similarity.models.checkpoint import read_checkpoint

        if not self._filepath.is_file():
            raise DatasetError(f"{self._filepath}: no checkpoint yet (run the pipeline that trains it)")
        return read_checkpoint(self._filepath, kind=self._kind)

    def save(self, data) -> None:
        raise DatasetError(f"{self._filepath}: checkpoints are written by the training jobs, not through the catalog")

    def _exists(self) -> bool:
        return self._filepath.is_file()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath), "kind": self._kind}
