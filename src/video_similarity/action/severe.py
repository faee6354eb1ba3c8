"""SEVERE-style evaluation of one encoder on one setting: its video features, the setting's split, a linear probe."""

from __future__ import annotations

import numpy as np
import pandas as pd

from video_similarity.action.clip_archives import USABLE
from video_similarity.action.metrics import chance_accuracy
from video_similarity.action.params import ProbeParams, Setting
from video_similarity.action.probe import balanced_subset, linear_probe
from video_similarity.action.splits import group_split


def video_features(folder: str, video_ids: list[str]) -> dict[str, np.ndarray]:
    """{video: its rows (clips, or frames for frame encoders) averaged and L2-normalised}; ids without an item are left out."""
    from video_similarity.cache import read_item
    from video_similarity.descriptors import l2_normalize

    means, kept = [], []
    for video_id in video_ids:
        item = read_item(folder, video_id)
        if item is None or not len(item["features"]):
            continue
        means.append(item["features"].astype(np.float64).mean(axis=0))
        kept.append(video_id)
    return dict(zip(kept, l2_normalize(np.stack(means)))) if means else {}


def setting_split(videos: pd.DataFrame, setting: Setting, test_fraction: float, split_seed: int,
                  subset_seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, test) of one setting: the dataset's group-held-out split, its class subset, a balanced training subset."""
    rows = videos[(videos["dataset"] == setting.dataset) & videos["status"].isin(USABLE)]
    fold = group_split(rows, test_fraction, split_seed)  # on the whole dataset: the TVN's group fold
    if setting.classes:
        missing = sorted(set(setting.classes) - set(rows["class_name"]))
        if missing:
            raise ValueError(f"severe setting {setting.name!r}: class(es) {missing} not in {setting.dataset}")
        rows = rows[rows["class_name"].isin(setting.classes)]
    rows = rows.assign(label=rows["class_name"].map({c: i for i, c in enumerate(sorted(rows["class_name"].unique()))}))
    train, test = rows[rows["video_id"].isin(fold.train)], rows[rows["video_id"].isin(fold.test)]
    return balanced_subset(train, setting.sample_size, subset_seed), test


def class_count(train: pd.DataFrame, test: pd.DataFrame) -> int:
    """The setting's label space (``setting_split`` labels every class of the dataset's subset, on either side)."""
    return int(max(train["label"].max(), test["label"].max())) + 1


def probe_top1(encoded: dict[str, np.ndarray], train: pd.DataFrame, test: pd.DataFrame, probe: ProbeParams) -> dict:
    """A linear probe of one encoder's video features on one setting: top-1 (NaN without both sides), counts, chance."""
    labels = dict(zip(train["video_id"], train["label"])) | dict(zip(test["video_id"], test["label"]))
    train_ids = [v for v in train["video_id"] if v in encoded]
    test_ids = [v for v in test["video_id"] if v in encoded]
    y_train, y_test = np.array([labels[v] for v in train_ids]), np.array([labels[v] for v in test_ids])
    top1 = float("nan")
    if train_ids and test_ids:
        x_train, x_test = np.stack([encoded[v] for v in train_ids]), np.stack([encoded[v] for v in test_ids])
        top1 = float((linear_probe(x_train, y_train, x_test, probe) == y_test).mean())
    return {"classes": class_count(train, test), "train_videos": len(train_ids), "test_videos": len(test_ids), "top1": top1,
            "chance": chance_accuracy(list(y_test))}
