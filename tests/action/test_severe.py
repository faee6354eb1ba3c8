"""One SEVERE setting: its group-held-out split with a class subset and a balanced sample, video features, the probe's row."""

import numpy as np
import pandas as pd
import pytest

from video_similarity.action.params import ProbeParams, Setting
from video_similarity.action.severe import class_count, probe_top1, setting_split, video_features
from video_similarity.cache import write_item

CLASSES = ["A", "B", "C"]
VIDEOS = pd.DataFrame([{"video_id": f"{c}_g{g}_{k}", "dataset": "d", "status": "good", "class_name": c, "group": g, "path": f"/{c}{g}{k}"}
                       for c in CLASSES for g in range(1, 5) for k in range(2)])


def test_the_split_holds_groups_out_keeps_the_class_subset_and_samples_the_training_side():
    train, test = setting_split(VIDEOS, Setting("all", "d"), 0.25, 0, 0)
    assert set(train["group"]).isdisjoint(test["group"]) and len(train) + len(test) == len(VIDEOS)
    assert class_count(train, test) == 3 and sorted(train["label"].unique()) == [0, 1, 2]
    fine, fine_test = setting_split(VIDEOS, Setting("fine", "d", ("B", "C")), 0.25, 0, 0)
    assert set(fine["class_name"]) == {"B", "C"} and class_count(fine, fine_test) == 2  # labels over the subset
    small, _ = setting_split(VIDEOS, Setting("n=3", "d", None, 3), 0.25, 0, 0)
    assert len(small) == 3 and sorted(small["class_name"]) == CLASSES  # ceil(3 / 3) per class
    with pytest.raises(ValueError, match=r"class\(es\) \['Z'\] not in d"):
        setting_split(VIDEOS, Setting("bad", "d", ("Z",)), 0.25, 0, 0)


def test_video_features_average_the_rows_and_leave_out_videos_without_an_item(tmp_path):
    write_item(tmp_path, "v1", "k", features=np.array([[1.0, 0.0], [0.0, 1.0]], np.float32))
    write_item(tmp_path, "v2", "k", features=np.zeros((0, 2), np.float32))
    features = video_features(str(tmp_path), ["v1", "v2", "v3"])
    assert list(features) == ["v1"]
    np.testing.assert_allclose(features["v1"], [2 ** -0.5, 2 ** -0.5])


def test_the_probe_reads_the_labels_of_separable_features_and_says_what_it_had():
    train, test = setting_split(VIDEOS, Setting("all", "d"), 0.25, 0, 0)
    labels = pd.concat([train, test]).set_index("video_id")["label"]
    encoded = {v: np.eye(3)[y] + 0.01 * np.random.default_rng(i).normal(size=3) for i, (v, y) in enumerate(labels.items())}
    row = probe_top1(encoded, train, test, ProbeParams(solver="lbfgs"))
    assert row["top1"] == 1.0 and row["classes"] == 3 and (row["train_videos"], row["test_videos"]) == (len(train), len(test))
    assert row["chance"] == pytest.approx(1 / 3)
    assert np.isnan(probe_top1({}, train, test, ProbeParams())["top1"])  # no features: no figure, not a zero
