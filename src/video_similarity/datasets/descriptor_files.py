"""Descriptor files in the official VSC format (npz: video_ids, timestamps, features)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset

from video_similarity.atomic import atomic_path, atomic_write
from video_similarity.descriptors import Descriptors, load_descriptors, save_descriptors


class DescriptorsDataset(AbstractDataset[Descriptors, Descriptors]):
    def __init__(self, filepath: str, metadata: dict[str, Any] | None = None):
        self._filepath = Path(filepath)
        self.metadata = metadata

    def load(self) -> Descriptors:
        return load_descriptors(self._filepath)

    def save(self, data: Descriptors) -> None:
        save_descriptors(self._filepath, data)

    def _exists(self) -> bool:
        return self._filepath.is_file()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath)}


class FaissIndexDataset(AbstractDataset[Any, Any]):
    """A faiss index file (faiss.write_index / read_index)."""

    def __init__(self, filepath: str, metadata: dict[str, Any] | None = None):
        self._filepath = Path(filepath)
        self.metadata = metadata

    def load(self):
        import faiss

        return faiss.read_index(str(self._filepath))

    def save(self, data) -> None:
        import faiss

        with atomic_path(self._filepath) as tmp:
            faiss.write_index(data, str(tmp))

    def _exists(self) -> bool:
        return self._filepath.is_file()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath)}


class ProjectionDataset(AbstractDataset[Any, Any]):
    """The descriptor projection as plain arrays (``.npz``): a :class:`~video_similarity.vsc.projection.DescriptorPCA`
    (mean, components, scale) or the identity (:class:`~video_similarity.vsc.projection.NoProjection`)."""

    def __init__(self, filepath: str, metadata: dict[str, Any] | None = None):
        self._filepath = Path(filepath)
        self.metadata = metadata

    def load(self):
        import numpy as np

        from video_similarity.errors import UserError
        from video_similarity.vsc.projection import DescriptorPCA, NoProjection

        pickled = self._filepath.with_suffix(".pkl")
        if self._filepath.suffix == ".pkl" or (not self._filepath.exists() and pickled.is_file()):
            raise UserError(f"{pickled}: a PCA pickled by an earlier version of this project, which is not read any more; "
                            "rerun the pca stage (kedro run --pipeline=pca, with the same --env and --params)")
        with np.load(self._filepath, allow_pickle=False) as data:
            if bool(data["identity"]):
                return NoProjection()
            return DescriptorPCA(data["mean"], data["components"], data["scale"])

    def save(self, data) -> None:
        import numpy as np

        from video_similarity.vsc.projection import DescriptorPCA

        if isinstance(data, DescriptorPCA):
            arrays = {"identity": np.asarray(False), "mean": data.mean, "components": data.components, "scale": data.scale}
        else:
            arrays = {"identity": np.asarray(True)}
        atomic_write(self._filepath, lambda handle: np.savez(handle, **arrays))

    def _exists(self) -> bool:
        return self._filepath.is_file()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath)}
