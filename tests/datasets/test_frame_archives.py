import numpy as np
import pandas as pd
import pytest
from kedro.io import DatasetError

from video_similarity.datasets import FrameArchivesDataset
from video_similarity.frames.archive import ArchiveSettings, write_archive
from video_similarity.video.decode import SampledFrame


def test_load_gives_a_store_and_save_writes_the_manifest(tmp_path):
    dataset = FrameArchivesDataset(path=str(tmp_path / "store"))
    assert not dataset.exists()
    store = dataset.load()
    assert store.root.is_dir() and len(store) == 0
    write_archive(store.path("v1"), "v1", [SampledFrame(0, 0.0, 1.0, np.zeros((8, 8, 3), np.uint8))], ArchiveSettings())
    assert store.ids() == ["v1"] and "v1" in store and "v2" not in store
    manifest = pd.DataFrame({"video_id": ["v1", "v2"], "status": ["ok", "failed"]})
    dataset.save(manifest)
    assert dataset.exists()
    loaded = dataset.load()
    assert loaded.ids() == ["v1"]
    with loaded.open("v1") as archive:
        assert len(archive) == 1
    with pytest.raises(KeyError, match="no frame archive for 'v2'"):
        loaded.open("v2")


def test_save_rejects_what_is_not_a_manifest(tmp_path):
    with pytest.raises(DatasetError, match="manifest DataFrame"):
        FrameArchivesDataset(path=str(tmp_path)).save({"video_id": []})
