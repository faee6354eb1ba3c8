"""train_ensemble nodes: model entries are checked; frozen members are used as they are."""

import pandas as pd
import pytest

from video_similarity.datasets.directory import Directory
from video_similarity.datasets.frame_archives import FrameArchiveStore
from video_similarity.pipelines.train_ensemble.nodes import train_ensemble

PARAMS = {"split": "train", "image_size": 32, "tau": 0.05, "koleo_weight": 0.1, "weight_decay": 0.0, "synthetic_pairs": 0,
          "dim": 16, "epochs": 1, "batch_size": 2, "lr": 1e-3}
INDEX = pd.DataFrame({"video_id": ["Q1", "R1", "Q9"], "split": ["train", "train", "test"], "role": ["query", "reference", "query"], "duration": [2.0, 3.0, 50.0]})
GT = pd.DataFrame(columns=["split", "query_id", "ref_id", "query_start", "query_end", "ref_start", "ref_end"])
NO_FOLDS = {"split": "train", "holdout": True, "reason": "no ground truth", "folds": []}


def test_train_ensemble_rejects_bad_model_entries(tmp_path):
    store = FrameArchiveStore(tmp_path / "store")
    (tmp_path / "store").mkdir()
    for video in ("Q1", "R1"):
        (tmp_path / "store" / f"{video}.zip").write_bytes(b"")
    folder = Directory(tmp_path / "models")
    with pytest.raises(ValueError, match="unknown key\\(s\\) \\['depth'\\]"):
        train_ensemble(store, INDEX, GT, NO_FOLDS, {}, folder, folder, {**PARAMS, "models": [{"name": "m", "backbone": "resnet18", "depth": 3}]}, {})
    with pytest.raises(ValueError, match="weights 'imagenet' is not in the catalog entry pretrained_weights"):
        train_ensemble(store, INDEX, GT, NO_FOLDS, {}, folder, folder, {**PARAMS, "models": [{"name": "m", "backbone": "resnet18", "weights": "imagenet"}]}, {})
    with pytest.raises(ValueError, match="no frame archives for split 'test'"):
        train_ensemble(store, INDEX, GT, NO_FOLDS, {}, folder, folder, {**PARAMS, "split": "test", "models": []}, {})


def test_frozen_members_are_used_as_they_are_and_never_trained(tmp_path, monkeypatch):
    import video_similarity.pipelines.train_ensemble.nodes as nodes

    store = FrameArchiveStore(tmp_path / "store")
    (tmp_path / "store").mkdir()
    for video in ("Q1", "R1"):
        (tmp_path / "store" / f"{video}.zip").write_bytes(b"")
    monkeypatch.setattr(nodes, "run_job", lambda *a, **k: pytest.fail("a frozen member was trained"))
    frozen = {"name": "sscd", "frozen": True, "encoder": {"builder": "sscd", "weights": "official", "options": {"short_side": 256}}}
    manifest = train_ensemble(store, INDEX, GT, NO_FOLDS, {"official": "/models/sscd.pt"}, Directory(tmp_path / "models"), Directory(tmp_path / "emb"), {**PARAMS, "models": [frozen]}, {})
    assert manifest["members"] == {"sscd": {"builder": "sscd", "weights_path": "/models/sscd.pt", "seed": 0, "whitening_path": None, "options": {"short_side": 256}}}
    assert manifest["models"]["sscd"] == {"frozen": True, "builder": "sscd", "weights": "official"}
    with pytest.raises(ValueError, match="a frozen member names its encoder"):
        train_ensemble(store, INDEX, GT, NO_FOLDS, {}, Directory(tmp_path / "models"), Directory(tmp_path / "emb"), {**PARAMS, "models": [{"name": "x", "frozen": True, "backbone": "resnet18"}]}, {})
    with pytest.raises(ValueError, match="a trained member needs a backbone"):
        train_ensemble(store, INDEX, GT, NO_FOLDS, {}, Directory(tmp_path / "models"), Directory(tmp_path / "emb"), {**PARAMS, "models": [{"name": "x", "encoder": {"builder": "sscd"}}]}, {})
