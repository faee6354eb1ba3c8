"""The tune stage's nodes on toy embeddings (the extraction job replaced by its result): what they read and what they choose."""

import pandas as pd
import pytest

import video_similarity.pipelines.tune.nodes as tune_nodes
from tests.vsc.test_tuning import POSITIVES, QUERIES, REFS, SECONDS, toy
from video_similarity.datasets.directory import Directory
from video_similarity.errors import UserError
from video_similarity.pipelines.train_ensemble.nodes import plan_tuning_folds
from video_similarity.pipelines.tune.nodes import tune_descriptors
from video_similarity.vsc.settings import DescriptorSettings

MEMBERS = {"members": {n: {"builder": n} for n in ("good", "bad", "trained")},
           "models": {"good": {"frozen": True}, "bad": {"frozen": True}, "trained": {"backbone": "resnet18"}}}
TEST_REFS, TEST_QUERIES = [f"T{i}" for i in range(4)], [f"U{i}" for i in range(8)]
INDEX = pd.DataFrame(
    [{"video_id": v, "split": "train", "role": "reference", "duration": float(SECONDS)} for v in REFS]
    + [{"video_id": v, "split": "train", "role": "query", "duration": float(SECONDS)} for v in QUERIES]
    + [{"video_id": v, "split": "test", "role": "reference", "duration": 9.0} for v in TEST_REFS]
    + [{"video_id": v, "split": "test", "role": "query", "duration": 9.0} for v in TEST_QUERIES])
TRAIN_GT = pd.DataFrame([{"split": "train", "query_id": q, "ref_id": r} for q, r in sorted(POSITIVES)])
PARAMS = {"folds": 2, "bootstrap": 100, "search": {"weights": [0.5, 1.0], "projections": [{"dim": 8, "whitening_power": 0.25}],
                                                   "dedup_thresholds": [0.9], "betas": [1.2, 1.0], "video_score_thresholds": [0.5]}}
PCA = {"frames_per_dim": 2}
INFERENCE = {"split": "test", "noise_split": "train"}


class Archives:
    """A frame-archive store of every indexed video (nothing is decoded: extraction is replaced)."""

    def archives(self, video_index, split, role=None):
        rows = video_index[(video_index["split"] == split) & ((video_index["role"] == role) if role else True)]
        return {v: f"/archives/{v}.zip" for v in rows["video_id"]}


@pytest.fixture()
def embedded(monkeypatch):
    """The members' toy embeddings of the training split stand in for the extraction job; the videos it was asked for are kept."""
    asked = {}

    def extract(encoders, videos, cache_dir, launch_params, batch_size, merge_job=None):
        asked.update(videos)
        embeddings = toy().embeddings
        assert set(encoders) == set(embeddings)
        return {name: embeddings[name] for name in encoders}

    monkeypatch.setattr(tune_nodes, "extract", extract)
    return asked


def tune(tmp_path, ground_truth, params=PARAMS):
    folds = plan_tuning_folds(INDEX, ground_truth, params, INFERENCE)
    return tune_descriptors(MEMBERS, {"skipped": "none"}, folds, Archives(), INDEX, ground_truth, Directory(tmp_path), params, PCA, {},
                            INFERENCE, {})


def test_the_choice_never_depends_on_the_evaluated_splits_ground_truth(tmp_path, embedded):
    """A test split's ground truth that the tuner read would change the table: two different ones leave it as it is."""
    one = pd.concat([TRAIN_GT, pd.DataFrame([{"split": "test", "query_id": q, "ref_id": "T0"} for q in TEST_QUERIES[:4]])])
    other = pd.concat([TRAIN_GT, pd.DataFrame([{"split": "test", "query_id": q, "ref_id": r} for q, r in zip(TEST_QUERIES, TEST_REFS * 2)])])
    settings, table, report = tune(tmp_path, one)
    again, table_again, _ = tune(tmp_path, other)
    assert settings == again and table.equals(table_again)
    assert not any(v.startswith(("T", "U")) for v in embedded)  # nothing of the test split is even embedded
    assert DescriptorSettings.from_dict(settings).members() == {"good": 1.0} and settings["source"] == "tuned"
    assert "## Every option" in report and "held out from training" in report
    # the same check is not blind: the training split's ground truth does change the table
    fewer = TRAIN_GT.iloc[: len(TRAIN_GT) // 2]
    assert not tune(tmp_path, fewer)[1].equals(table)


def test_without_ground_truth_the_fallback_is_used_and_said(tmp_path, embedded):
    settings, table, report = tune(tmp_path, TRAIN_GT.iloc[:0])
    assert settings["source"] == "fallback" and settings["weights"] == {"good": 1.0}  # the first frozen member alone
    assert settings["projection"] is None and settings["dedup_threshold"] is None and settings["video_score_threshold"] is None
    assert table.empty and not embedded  # nothing to tune: nothing embedded
    assert "No tuning: split 'train' has no ground-truth copy" in report and "fallback settings (tuning.fallback)" in report


def test_mode_fixed_takes_the_given_settings_and_holds_nothing_out(tmp_path, embedded):
    params = {**PARAMS, "mode": "fixed", "fixed": {"weights": {"good": 1.0, "trained": 0.5}, "projection": {"dim": 8, "whitening_power": 0.25},
                                                   "dedup_threshold": 0.975, "video_score_threshold": 0.001}}
    assert plan_tuning_folds(INDEX, TRAIN_GT, params, INFERENCE)["folds"] == []  # members train on the whole split
    settings, _, _ = tune(tmp_path, TRAIN_GT, params)
    assert settings["weights"] == {"good": 1.0, "trained": 0.5} and settings["source"] == "fixed" and settings["dedup_threshold"] == 0.975
    with pytest.raises(UserError, match=r"member\(s\) \['nobody'\]"):
        tune(tmp_path, TRAIN_GT, {**params, "fixed": {"weights": {"nobody": 1.0}}})


def test_the_tuning_split_cannot_be_the_evaluated_one():
    with pytest.raises(UserError, match="tuning.split is 'test', the evaluated split itself"):
        plan_tuning_folds(INDEX, TRAIN_GT, {"split": "test"}, INFERENCE)
