"""Node-level checks of the descriptor-track pipelines that need no torchrun job."""


import numpy as np
import pandas as pd
import pytest

from video_similarity.datasets.directory import Directory
from video_similarity.datasets.frame_archives import FrameArchiveStore
from video_similarity.descriptors import Descriptors, SubmissionError
from video_similarity.pipelines.evaluate.nodes import _edit_breakdown, _markdown, score_submission
from video_similarity.pipelines.infer_query.nodes import make_query_submission
from video_similarity.pipelines.infer_ref.nodes import make_reference_submission
from video_similarity.pipelines.infer_ref.params import InferenceParams
from video_similarity.pipelines.train_ensemble.nodes import train_ensemble

PARAMS = {"split": "train", "image_size": 32, "tau": 0.05, "koleo_weight": 0.1, "weight_decay": 0.0, "synthetic_pairs": 0,
          "dim": 16, "epochs": 1, "batch_size": 2, "lr": 1e-3}
INDEX = pd.DataFrame({"video_id": ["Q1", "R1", "Q9"], "split": ["train", "train", "test"], "role": ["query", "reference", "query"], "duration": [2.0, 3.0, 50.0]})
GT = pd.DataFrame(columns=["split", "query_id", "ref_id", "query_start", "query_end", "ref_start", "ref_end"])
NO_FOLDS = {"split": "train", "holdout": True, "reason": "no ground truth", "folds": []}
SETTINGS = {"weights": {"m": 1.0}, "projection": None, "dedup_threshold": None, "beta": 1.2, "video_score_threshold": None,
            "source": "fixed", "note": ""}


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


def _descriptors(ids, n_dim=4, seed=0):
    rng = np.random.default_rng(seed)
    feats = rng.normal(size=(len(ids), n_dim)).astype(np.float32)
    return Descriptors(np.asarray(ids), np.stack([np.arange(len(ids)), np.arange(len(ids)) + 1], 1).astype(np.float32), feats / np.linalg.norm(feats, axis=1, keepdims=True))


def test_submission_keeps_shapes_and_scoring_enforces_the_budget():
    query, reference, noise = _descriptors(["Q1", "Q1"]), _descriptors(["R1", "R1", "R1"], seed=1), _descriptors(["N"] * 5, seed=2)
    q, r = make_query_submission(query, noise, None, SETTINGS), make_reference_submission(reference, noise)
    assert q.features.shape == (2, 4) and r.features.shape == (3, 4) and q.features.dtype == np.float32
    metrics, candidates = score_submission(q, r, {("Q1", "R1")}, INDEX, "train")
    assert metrics["uAP"] == 1.0 and metrics["positives_retrieved"] == 1 and len(candidates) == 1
    too_many = _descriptors(["Q1"] * 3)
    with pytest.raises(SubmissionError, match="budget"):  # 3 query descriptors, 2 s of train queries (the 50 s test query does not count)
        score_submission(too_many, r, {("Q1", "R1")}, INDEX, "train")


def test_edit_breakdown_and_markdown():
    candidates = pd.DataFrame({"query_id": ["Q1", "Q2", "Q3"], "ref_id": ["R1", "R2", "R1"], "score": [3.0, 2.0, 1.0]})
    edits = pd.DataFrame({"split": ["test"] * 3, "query_id": ["Q1", "Q2", "Q3"], "has_copy": [True, True, False], "embedded": [False] * 3, "edits": ["flip;blur", "", "text"]})
    rows = {r["edit"]: r for r in _edit_breakdown(candidates, {("Q1", "R1"), ("Q2", "R2")}, edits, "test")}
    assert set(rows) == {"flip", "blur", "none"} and rows["flip"]["queries"] == 1 and rows["flip"]["uAP"] == 1.0
    assert rows["flip"]["recall@1"] == 1.0 and rows["none"]["recall@1"] == 1.0
    wrong = pd.DataFrame({"query_id": ["Q1", "Q1"], "ref_id": ["R9", "R1"], "score": [3.0, 2.0]})
    assert _edit_breakdown(wrong, {("Q1", "R1")}, edits.iloc[:1], "test")[0]["recall@1"] == 0.0
    table = pd.DataFrame([
        {"method": m, "edit": "flip", "queries": 1, "uAP": u, "recall@1": r} for m, u, r in (("ensemble", 1.0, 1.0), ("pdq", 0.5, 0.0))
    ])
    metrics = {"split": "test", "methods": {"ensemble": {"uAP": 0.9, "query_descriptors": 2, "reference_descriptors": 3, "dim": 4, "positives_retrieved": 1, "positives": 1}}}
    text = _markdown(metrics, table)
    assert "| ensemble | 0.9000 |" in text and "| flip | 1.000 | 0.500 |" in text and "| flip | 1.000 | 0.000 |" in text


def test_the_noise_bank_must_come_from_another_split():
    with pytest.raises(ValueError, match="noise_split is 'test', the evaluated split itself"):
        InferenceParams.from_params({"split": "test", "noise_split": "test"})
    with pytest.raises(ValueError, match=r"inference: unknown key\(s\) \['beta'\]"):  # a descriptor setting now (tuning)
        InferenceParams.from_params({"beta": 1.0})


def test_the_reference_side_needs_only_the_noise_bank_and_matches_the_joint_normalisation():
    from video_similarity.vsc.score_norm import score_normalize

    query, reference, noise = _descriptors(["Q1", "Q1"]), _descriptors(["R1", "R1", "R1"], seed=1), _descriptors(["N"] * 5, seed=2)
    q, r = score_normalize(query.features, reference.features, noise.features, beta=1.2)
    np.testing.assert_array_equal(make_reference_submission(reference, noise).features, r)
    np.testing.assert_array_equal(make_query_submission(query, noise, None, SETTINGS).features, q)


def test_frozen_members_are_used_as_they_are_and_never_trained(tmp_path, monkeypatch):
    import video_similarity.pipelines.train_ensemble.nodes as nodes

    store = FrameArchiveStore(tmp_path / "store")
    (tmp_path / "store").mkdir()
    for video in ("Q1", "R1"):
        (tmp_path / "store" / f"{video}.zip").write_bytes(b"")
    monkeypatch.setattr(nodes, "launch", lambda *a, **k: pytest.fail("a frozen member was trained"))
    frozen = {"name": "sscd", "frozen": True, "encoder": {"builder": "sscd", "weights": "official", "options": {"short_side": 256}}}
    manifest = train_ensemble(store, INDEX, GT, NO_FOLDS, {"official": "/models/sscd.pt"}, Directory(tmp_path / "models"), Directory(tmp_path / "emb"), {**PARAMS, "models": [frozen]}, {})
    assert manifest["members"] == {"sscd": {"builder": "sscd", "weights_path": "/models/sscd.pt", "seed": 0, "whitening_path": None, "options": {"short_side": 256}}}
    assert manifest["models"]["sscd"] == {"frozen": True, "builder": "sscd", "weights": "official"}
    with pytest.raises(ValueError, match="a frozen member names its encoder"):
        train_ensemble(store, INDEX, GT, NO_FOLDS, {}, Directory(tmp_path / "models"), Directory(tmp_path / "emb"), {**PARAMS, "models": [{"name": "x", "frozen": True, "backbone": "resnet18"}]}, {})
    with pytest.raises(ValueError, match="a trained member needs a backbone"):
        train_ensemble(store, INDEX, GT, NO_FOLDS, {}, Directory(tmp_path / "models"), Directory(tmp_path / "emb"), {**PARAMS, "models": [{"name": "x", "encoder": {"builder": "sscd"}}]}, {})
