"""SEVERE's class-balanced subsets and the linear probe."""

import numpy as np
import pandas as pd
import pytest

from video_similarity.action.probe import ProbeParams, balanced_subset, linear_probe


def _videos(per_class=(10, 10, 3)):
    rows = [{"video_id": f"c{c}_{i}", "label": c} for c, n in enumerate(per_class) for i in range(n)]
    return pd.DataFrame(rows)


@pytest.mark.parametrize("n, sizes", [(6, [2, 2, 2]), (7, [3, 3, 3]), (30, [10, 10, 3]), (1, [1, 1, 1])])
def test_balanced_subsets_take_ceil_n_over_c_per_class(n, sizes):
    subset = balanced_subset(_videos(), n)
    assert subset.groupby("label").size().tolist() == sizes
    assert subset["video_id"].is_unique


def test_subsets_are_fixed_by_the_seed_and_none_keeps_everything():
    videos = _videos()
    assert balanced_subset(videos, 6)["video_id"].tolist() == balanced_subset(videos, 6)["video_id"].tolist()
    assert balanced_subset(videos, 6, seed=1)["video_id"].tolist() != balanced_subset(videos, 6, seed=2)["video_id"].tolist()
    assert len(balanced_subset(videos, None)) == len(videos)
    with pytest.raises(ValueError):
        balanced_subset(videos, 0)


@pytest.mark.parametrize("solver", ["sgd", "lbfgs"])
def test_the_probe_learns_a_separable_toy_set(solver):
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(4, 32)) * 3
    labels = np.repeat(np.arange(4), 50)
    x = centres[labels] + rng.normal(size=(200, 32))
    test = rng.permutation(200)[:60]
    train = np.setdiff1d(np.arange(200), test)
    params = ProbeParams(solver=solver, epochs=10, batch_size=16)
    predicted = linear_probe(x[train], labels[train], x[test], params)
    assert (predicted == labels[test]).mean() > 0.95
    shuffled = linear_probe(x[train], rng.permutation(labels[train]), x[test], params)
    assert (shuffled == labels[test]).mean() < 0.6  # it is the features, not the probe, that carry the labels


def test_one_training_class_predicts_it():
    x = np.zeros((3, 2))
    assert linear_probe(x, np.array([2, 2, 2]), x, ProbeParams()).tolist() == [2, 2, 2]
