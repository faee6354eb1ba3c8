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


def test_torchscript_and_checkpoint_files_of_the_training_jobs_load_from_the_catalog(tmp_path):
    import torch

    from video_similarity.datasets import CheckpointDataset, TorchScriptDataset
    from video_similarity.models.checkpoint import save_checkpoint

    model = torch.nn.Linear(3, 1)
    scripted = TorchScriptDataset(filepath=str(tmp_path / "m.pt"))
    assert not scripted.exists()
    with pytest.raises(DatasetError, match="no TorchScript file yet"):
        scripted.load()
    scripted.save(torch.jit.script(model))
    x = torch.ones(2, 3)
    torch.testing.assert_close(scripted.load()(x), model(x))
    save_checkpoint(tmp_path / "m.ckpt", "vid_score", model, {"width": 3}, None, 2)
    state = CheckpointDataset(filepath=str(tmp_path / "m.ckpt"), kind="vid_score").load()
    assert state.epoch == 2 and state.config == {"width": 3}
    with pytest.raises(Exception, match="descriptor"):
        CheckpointDataset(filepath=str(tmp_path / "m.ckpt"), kind="descriptor").load()  # another kind: refused
    with pytest.raises(DatasetError, match="written by the training jobs"):
        CheckpointDataset(filepath=str(tmp_path / "m.ckpt")).save({"state_dict": {}})
