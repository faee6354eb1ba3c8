"""train_vid_score nodes: skipped without ground truth; the held-out queries keep both classes."""

import pandas as pd

from tests.pipelines.conftest import QUERY_INDEX as INDEX
from tests.pipelines.conftest import query_archives as _store
from video_similarity.datasets.directory import Directory
from video_similarity.pipelines.train_vid_score.nodes import (
    split_train_val,
    train_video_score,
)


def test_the_video_score_stage_is_skipped_without_ground_truth(tmp_path):
    index = INDEX.assign(split="train")
    no_gt = pd.DataFrame(columns=["split", "query_id", "ref_id"])
    no_folds = {"split": "train", "holdout": True, "reason": "no ground truth", "folds": []}
    result = train_video_score({}, _store(tmp_path), index, no_gt, no_folds, {}, Directory(tmp_path / "m"), Directory(tmp_path / "e"), {}, {})
    assert result == {"skipped": "split 'train' has no ground truth"}


def test_the_held_out_queries_keep_both_classes():
    labels = {f"Q{i}": int(i < 4) for i in range(10)}
    train, val = split_train_val(labels, 0.2, seed=0)
    assert not set(train) & set(val) and set(train) | set(val) == set(labels)
    assert {labels[v] for v in val} == {0, 1} and {labels[v] for v in train} == {0, 1}
