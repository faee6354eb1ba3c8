import numpy as np

from video_similarity.descriptors import Descriptors
from video_similarity.vsc.boosters import TINY, merge_parts, parent_id, part_id, suppress
from video_similarity.vsc.score_norm import LOW_SCORE_BIAS
from video_similarity.vsc.submission import query_submission


def rows(ids, dim=3, start=0.0, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(len(ids), dtype=np.float32) + start
    return Descriptors(np.asarray(ids), np.stack([t, t + 1], 1), rng.normal(size=(len(ids), dim)).astype(np.float32))


def test_part_ids_name_their_query():
    assert part_id("Q7", 2) == "Q7~p2" and parent_id("Q7~p2") == "Q7"
    assert parent_id("Q7") == "Q7" and parent_id("odd~pX") == "odd~pX"  # only <id>~p<digits> is a part


def test_parts_follow_their_query_with_its_timestamps():
    whole = rows(["A", "A", "B"])
    parts = rows(["B~p0", "A~p0", "A~p1", "C~p0"], seed=1)  # C has no rows of its own: ignored
    merged = merge_parts(whole, parts)
    assert merged.descriptors.video_ids.tolist() == ["A", "A", "A", "A", "B", "B"]
    np.testing.assert_array_equal(merged.descriptors.features[2], parts.features[1])  # A~p0 after A's own rows
    np.testing.assert_array_equal(merged.descriptors.timestamps[2], parts.timestamps[1])  # parts keep their timestamps
    np.testing.assert_array_equal(merged.descriptors.features[5], parts.features[0])
    assert merged.part_rows == 3 and merged.dropped == 0


def test_a_suppressed_query_keeps_one_tiny_row_over_the_first_second():
    d = rows(["A", "A", "B", "B", "B"], dim=4)
    out, low = suppress(d, {"B"})
    assert out.video_ids.tolist() == ["A", "A", "B"] and low.tolist() == [False, False, True]
    np.testing.assert_array_equal(out.timestamps[2], [0, 1])
    assert np.all(np.abs(out.features[2]) <= TINY) and np.any(out.features[2] != 0)
    np.testing.assert_array_equal(suppress(d, {"B"})[0].features, out.features)  # seeded by the id: reruns agree


def test_the_submission_gives_suppressed_queries_a_bias_of_minus_100():
    query, noise = rows(["A", "A", "B", "B"], dim=4), rows(["N"] * 6, dim=4, seed=2)
    plain = query_submission(query, noise, beta=1.2)
    boosted = query_submission(query, noise, beta=1.2, suppressed={"B"})
    assert len(boosted) == 3 and boosted.features.shape[1] == plain.features.shape[1]
    np.testing.assert_array_equal(boosted.features[:2], plain.features[:2])  # other queries are untouched
    assert boosted.features[2, -1] == LOW_SCORE_BIAS == -100
    assert abs(np.linalg.norm(boosted.features[2, :-1]) - 1) < 1e-5  # the tiny row, L2-normalised like every row


def test_parts_can_take_the_place_of_their_querys_frames_keeping_its_count():
    whole = rows(["A"] * 4 + ["B"] * 2)
    parts = rows(["A~p0"] * 3 + ["A~p1"] * 3, seed=1)  # six part rows for a query of four
    merged = merge_parts(whole, parts, replace=True)
    assert merged.descriptors.video_ids.tolist() == ["A"] * 4 + ["B"] * 2  # counts kept: the budget holds by construction
    np.testing.assert_array_equal(merged.descriptors.features[:4], parts.features[[0, 2, 3, 5]])  # parts, evenly sampled
    np.testing.assert_array_equal(merged.descriptors.features[4:], whole.features[4:])  # B has no parts: unchanged
    few = merge_parts(whole, rows(["A~p0"], seed=2), replace=True)  # one part row: three own frames stay
    assert few.descriptors.video_ids.tolist() == ["A"] * 4 + ["B"] * 2 and few.part_rows == 1
    np.testing.assert_array_equal(few.descriptors.features[:3], whole.features[[0, 2, 3]])
