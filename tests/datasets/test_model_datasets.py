import numpy as np
import pytest
from kedro.io import DatasetError

from video_similarity.datasets import DescriptorsDataset, DirectoryDataset, FaissIndexDataset, WeightFilesDataset
from video_similarity.descriptors import Descriptors


def test_a_directory_is_filled_by_the_node_that_loads_it_and_never_saved(tmp_path):
    dataset = DirectoryDataset(path=str(tmp_path / "models"))
    assert not dataset.exists()
    folder = dataset.load()
    assert folder.path.is_dir() and dataset.exists() and folder / "m.pt" == tmp_path / "models" / "m.pt"
    with pytest.raises(DatasetError, match="its manifest is a catalog entry of its own"):
        dataset.save({"models": {}})


def test_weight_files_must_exist(tmp_path):
    weights = tmp_path / "r18.pth"
    weights.write_bytes(b"x")
    assert WeightFilesDataset(files={"r18": str(weights)}).load() == {"r18": str(weights.resolve())}
    with pytest.raises(DatasetError, match="missing -> .*nope.pth"):
        WeightFilesDataset(files={"missing": str(tmp_path / "nope.pth")}).load()
    with pytest.raises(DatasetError, match="read-only"):
        WeightFilesDataset().save({})


def test_descriptor_and_index_datasets(tmp_path):
    import faiss

    d = Descriptors(np.asarray(["A", "B"]), np.asarray([[0, 1], [0, 1]], np.float32), np.eye(2, dtype=np.float32))
    dataset = DescriptorsDataset(filepath=str(tmp_path / "q.npz"))
    dataset.save(d)
    loaded = dataset.load()
    assert loaded.video_ids.tolist() == ["A", "B"] and loaded.features.dtype == np.float32
    index = faiss.IndexFlatIP(2)
    index.add(d.features)
    FaissIndexDataset(filepath=str(tmp_path / "i.faiss")).save(index)
    assert FaissIndexDataset(filepath=str(tmp_path / "i.faiss")).load().ntotal == 2
