import numpy as np

from video_similarity.descriptors import Descriptors
from video_similarity.vsc.dedup import drop_near_duplicates, fit_budget


def descriptors(ids, features, starts=None):
    n = len(ids)
    t = np.arange(n, dtype=np.float64) if starts is None else np.asarray(starts, dtype=np.float64)
    return Descriptors(np.asarray(ids), np.stack([t, t + 1], 1), np.asarray(features, np.float32))


def test_drop_near_duplicates_keeps_the_first_and_extends_its_interval():
    d = descriptors(["A", "A", "A", "A", "B"], [[1, 0], [1, 0.01], [0, 1], [0.01, 1], [0, 1]])
    out = drop_near_duplicates(d, 0.975)
    assert out.video_ids.tolist() == ["A", "A", "B"]
    np.testing.assert_allclose(out.timestamps, [[0, 2], [2, 4], [4, 5]])
    assert len(drop_near_duplicates(d, 1.01).features) == 5  # a threshold above 1 keeps everything


def test_within_the_budget_nothing_is_dropped():
    d = descriptors(["A", "A", "B"], [[1, 0], [1, 0], [0, 1]])
    assert fit_budget(d, 3) is d and fit_budget(d, 10) is d


def test_the_budget_drops_the_most_redundant_rows_first_and_hands_their_seconds_on():
    # A: a static shot (three equal rows) then a change; B: every second different
    d = descriptors(["A"] * 5 + ["B"] * 3, [[1, 0, 0], [1, 0, 0], [1, 0.02, 0], [0, 1, 0], [0, 0.9, 0.44],
                                             [1, 0, 0], [0, 1, 0], [0, 0, 1]], starts=[0, 1, 2, 3, 4, 0, 1, 2])
    out = fit_budget(d, 6)
    assert out.video_ids.tolist() == ["A"] * 3 + ["B"] * 3  # the static shot's repeats went, B kept every second
    np.testing.assert_allclose(out.timestamps[:3], [[0, 3], [3, 4], [4, 5]])  # the kept row stands for the seconds it replaced
    np.testing.assert_array_equal(out.features[3:], d.features[5:])
    # a fixed threshold would have cut the busy video too
    assert fit_budget(d, 4).video_ids.tolist().count("B") == 3


def test_rows_without_a_neighbour_are_never_dropped_and_runs_end_where_time_goes_back():
    # A's own frames (t 0, 1) then a scene part (t 0, 1 again): the part's first row is no neighbour of A's last
    d = descriptors(["A"] * 4 + ["B"], [[1, 0], [0, 1], [0, 1], [1, 0], [1, 0]], starts=[0, 1, 0, 1, 0])
    out = fit_budget(d, 3)
    # two rows of A go; then each run of A is down to one row without a neighbour, and B never had one
    assert out.video_ids.tolist() == ["A", "A", "B"]
    np.testing.assert_array_equal(out.timestamps, [[0, 2], [0, 2], [0, 1]])  # one row left of each run, standing for both seconds
    single = descriptors(["A", "B"], [[1, 0], [1, 0]])
    assert len(fit_budget(single, 1)) == 2  # one row per video: over the budget rather than a video lost
