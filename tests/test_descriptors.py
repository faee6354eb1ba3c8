"""Descriptor files: round trip, loader errors, and each validator rule broken once."""

from __future__ import annotations

import numpy as np
import pytest

from video_similarity.descriptors import (
    Descriptors,
    SubmissionError,
    load_descriptors,
    save_descriptors,
    validate_submission,
    video_groups,
)


def make(ids, dim=8, seed=0, ts_2d=True) -> Descriptors:
    rng = np.random.default_rng(seed)
    n = len(ids)
    ts = np.stack([np.arange(n), np.arange(n) + 1.0], axis=1) if ts_2d else np.arange(n) * 1.0
    return Descriptors(np.array(ids), ts, rng.normal(size=(n, dim)).astype(np.float32))


@pytest.fixture
def pair():
    return make(["Q1", "Q1", "Q2"]), make(["R1", "R2", "R2", "R2"], seed=1)


@pytest.mark.parametrize("ts_2d", [True, False])
def test_round_trip(tmp_path, ts_2d):
    d = make(["Q100001", "Q100001", "Q100002"], ts_2d=ts_2d)
    path = tmp_path / "sub" / "query_descriptors.npz"
    save_descriptors(path, d)
    back = load_descriptors(path)
    assert back.video_ids.tolist() == d.video_ids.tolist()
    np.testing.assert_array_equal(back.timestamps, d.timestamps)
    np.testing.assert_array_equal(back.features, d.features)
    assert back.features.dtype == np.float32
    assert back.timestamps.shape == d.timestamps.shape
    assert sorted(p.name for p in path.parent.iterdir()) == ["query_descriptors.npz"]


def test_video_groups_are_runs_of_equal_ids():
    d = make(["Q1", "Q1", "Q2", "Q3", "Q3", "Q3"])
    assert d.video_groups() == [("Q1", 0, 2), ("Q2", 2, 3), ("Q3", 3, 6)]
    assert video_groups(np.array(["a", "b", "a"])) == [("a", 0, 1), ("b", 1, 2), ("a", 2, 3)]
    assert video_groups(np.array([], dtype=str)) == []


def test_load_missing_key_names_file_and_key(tmp_path):
    path = tmp_path / "bad.npz"
    np.savez(path, video_ids=np.array(["Q1"]), features=np.zeros((1, 4), np.float32))
    with pytest.raises(SubmissionError, match=r"bad\.npz.*timestamps"):
        load_descriptors(path)


def test_load_missing_or_unreadable_file(tmp_path):
    with pytest.raises(SubmissionError, match="nope.npz"):
        load_descriptors(tmp_path / "nope.npz")
    junk = tmp_path / "junk.npz"
    junk.write_text("not a zip")
    with pytest.raises(SubmissionError, match="junk.npz"):
        load_descriptors(junk)


def test_valid_submission_passes(pair):
    q, r = pair
    validate_submission(q, r, {"Q1": 1.5, "Q2": 0.2}, {"R1": 1.0, "R2": 2.1})


def test_features_must_be_float32(pair):
    q, r = pair
    r.features = r.features.astype(np.float64)
    with pytest.raises(SubmissionError, match="reference.*float32"):
        validate_submission(q, r)


def test_dimension_limit():
    q, r = make(["Q1"], dim=513), make(["R1"], dim=513)
    with pytest.raises(SubmissionError, match="query.*513.*512"):
        validate_submission(q, r)


def test_arrays_must_have_equal_length(pair):
    q, r = pair
    q.timestamps = q.timestamps[:-1]
    with pytest.raises(SubmissionError, match="query.*equal length"):
        validate_submission(q, r)


def test_video_ids_must_be_sorted():
    q, r = make(["Q2", "Q1"]), make(["R1"])
    with pytest.raises(SubmissionError, match="query.*sorted"):
        validate_submission(q, r)


def test_descriptor_budget_is_global(pair):
    q, r = pair
    # R2 has 3 rows for 1.0 s, but the budget is summed over videos: ceil(1.0)+ceil(1.5) = 3 < 4.
    with pytest.raises(SubmissionError, match=r"reference: 4 descriptors exceed the budget of 3"):
        validate_submission(q, r, reference_durations={"R1": 1.0, "R2": 1.5})
    validate_submission(q, r, reference_durations={"R1": 1.0, "R2": 1.01, "R3": 1.0})


def test_non_finite_features(pair):
    q, r = pair
    q.features[1, 3] = np.nan
    with pytest.raises(SubmissionError, match="query.*non-finite"):
        validate_submission(q, r)
    q.features[1, 3] = np.inf
    with pytest.raises(SubmissionError, match="query.*non-finite"):
        validate_submission(q, r)


def test_query_and_reference_dimensions_must_match():
    with pytest.raises(SubmissionError, match="dimensions differ: 8 vs 16"):
        validate_submission(make(["Q1"], dim=8), make(["R1"], dim=16))


def test_submission_error_is_value_error():
    assert issubclass(SubmissionError, ValueError)
