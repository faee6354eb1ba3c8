import numpy as np
import pandas as pd
import pytest
from kedro.io import DatasetError

from video_similarity.datasets import FrameArchiveManifestDataset, FrameArchivesDataset
from video_similarity.frames.archive import ArchiveSettings, write_archive
from video_similarity.video.decode import SampledFrame


def test_the_folder_gives_a_store_and_the_manifest_a_store_of_its_usable_archives(tmp_path):
    folder = FrameArchivesDataset(path=str(tmp_path / "store"))
    assert not folder.exists()
    store = folder.load()
    assert store.root.is_dir() and len(store) == 0
    write_archive(store.path("v1"), "v1", [SampledFrame(0, 0.0, 1.0, np.zeros((8, 8, 3), np.uint8))], ArchiveSettings())
    assert store.ids() == ["v1"] and "v1" in store and "v2" not in store
    with pytest.raises(DatasetError, match="its manifest is the catalog entry frame_archives"):
        folder.save(pd.DataFrame())
    manifest = FrameArchiveManifestDataset(filepath=str(tmp_path / "store.parquet"))
    assert not manifest.exists()
    with pytest.raises(DatasetError, match="run `kedro run --pipeline=preprocess` first"):
        manifest.load()
    manifest.save(pd.DataFrame({"video_id": ["v1", "v2"], "status": ["ok", "failed"], "archive": [str(store.path("v1")), ""]}))
    loaded = manifest.load()
    assert loaded.ids() == ["v1"] and "v1" in loaded and "v2" not in loaded
    with loaded.open("v1") as archive:
        assert len(archive) == 1
    with pytest.raises(KeyError, match="no frame archive for 'v2'"):
        loaded.open("v2")


def test_save_rejects_what_is_not_a_manifest(tmp_path):
    with pytest.raises(DatasetError, match="manifest DataFrame"):
        FrameArchiveManifestDataset(filepath=str(tmp_path / "m.parquet")).save({"video_id": []})
