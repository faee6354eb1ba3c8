"""Score normalisation follows evaluation spec section 2 exactly."""

import numpy as np
import pytest

from video_similarity.vsc.score_norm import LOW_SCORE_BIAS, low_variance_dim, score_normalize

D = 6
LOW = 2  # the dimension the noise bank barely uses


def _features(n, seed, low_scale=1.0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, D)).astype(np.float32)
    x[:, LOW] *= low_scale
    return x


@pytest.fixture
def data():
    return _features(5, 1), _features(7, 2), _features(50, 3, low_scale=0.01)


def _reduce(x):
    x = np.delete(x.astype(np.float64), LOW, axis=1)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_dimension_dtype_and_row_counts_preserved(data):
    q, r, n = data
    q2, r2 = score_normalize(q, r, n)
    assert q2.shape == q.shape and r2.shape == r.shape
    assert q2.dtype == np.float32 and r2.dtype == np.float32
    assert q2.flags.c_contiguous and r2.flags.c_contiguous


def test_deletes_lowest_variance_dimension_of_the_noise(data):
    q, r, n = data
    assert low_variance_dim(n) == LOW
    q2, r2 = score_normalize(q, r, n)
    np.testing.assert_allclose(q2[:, :-1], _reduce(q), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(r2[:, :-1], _reduce(r), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(r2[:, -1], 1.0)


def test_lowest_variance_is_taken_from_noise_not_queries(data):
    q, r, n = data
    q = q.copy()
    q[:, 0] = 0.5  # zero variance in the queries must not matter
    q2, _ = score_normalize(q, r, n)
    np.testing.assert_allclose(q2[:, :-1], _reduce(q), rtol=1e-5, atol=1e-6)


def test_inner_product_is_cosine_plus_bias(data):
    q, r, n = data
    q2, r2 = score_normalize(q, r, n)
    cos = _reduce(q) @ _reduce(r).T
    bias = q2[:, -1:]
    np.testing.assert_allclose(q2 @ r2.T, cos + bias, rtol=1e-5, atol=1e-5)


def test_bias_is_minus_beta_times_max_over_noise_bank(data):
    q, r, n = data
    q2, _ = score_normalize(q, r, n, beta=1.2)
    all_sims = _reduce(q) @ _reduce(n).T
    np.testing.assert_allclose(q2[:, -1], -1.2 * all_sims.max(axis=1), rtol=1e-5, atol=1e-6)
    # the max, not the mean or the first neighbour
    assert not np.allclose(q2[:, -1], -1.2 * all_sims.mean(axis=1), atol=1e-3)


def test_beta_scales_bias(data):
    q, r, n = data
    b1, _ = score_normalize(q, r, n, beta=1.0)
    b2, _ = score_normalize(q, r, n, beta=2.5)
    np.testing.assert_allclose(b2[:, -1], 2.5 * b1[:, -1], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(b2[:, :-1], b1[:, :-1])
    assert (b1[:, -1] != 0).all()


def test_default_beta_is_1_2(data):
    q, r, n = data
    default, _ = score_normalize(q, r, n)
    explicit, _ = score_normalize(q, r, n, beta=1.2)
    np.testing.assert_array_equal(default, explicit)


def test_low_score_queries_get_bias_minus_100(data):
    q, r, n = data
    mask = np.array([False, True, False, False, True])
    plain, r_plain = score_normalize(q, r, n)
    masked, r_masked = score_normalize(q, r, n, low_score_queries=mask)
    assert LOW_SCORE_BIAS == -100.0
    np.testing.assert_array_equal(masked[mask, -1], -100.0)
    np.testing.assert_array_equal(masked[~mask], plain[~mask])
    np.testing.assert_array_equal(masked[mask, :-1], plain[mask, :-1])
    np.testing.assert_array_equal(r_masked, r_plain)
    assert (masked[mask] @ r_masked.T).max() < -98


def test_low_score_mask_must_be_bool_per_query(data):
    q, r, n = data
    with pytest.raises(ValueError, match="low_score_queries"):
        score_normalize(q, r, n, low_score_queries=np.array([0, 1, 0, 0, 1]))
    with pytest.raises(ValueError, match="low_score_queries"):
        score_normalize(q, r, n, low_score_queries=np.array([True, False]))


def test_normalised_score_separates_a_copy_from_a_generic_match():
    # A "generic" query near the noise bank's content gets a high raw score with every
    # reference; normalisation pushes it below a genuine copy of a distinctive query.
    rng = np.random.default_rng(0)
    hub = np.array([1.0, 0.2, 0, 0, 0, 0], dtype=np.float32)
    noise = (hub + 0.05 * rng.normal(size=(40, D))).astype(np.float32)
    noise[:, LOW] = 0.0
    distinctive = np.array([0, 0, 0, 0, 1.0, 0], dtype=np.float32)
    refs = np.stack([hub + [0, 0, 0, 0.3, 0, 0], distinctive + [0, 0, 0, 0, 0, 0.3]]).astype(np.float32)
    queries = np.stack([hub, distinctive])
    raw = _reduce(queries) @ _reduce(refs).T
    assert raw[0, 0] > raw[1, 1]
    q2, r2 = score_normalize(queries, refs, noise)
    scores = q2 @ r2.T
    assert scores[1, 1] > scores[0, 0]


def test_dimension_mismatch_and_bad_input_rejected(data):
    q, r, n = data
    with pytest.raises(ValueError, match="dimensions differ"):
        score_normalize(q[:, :4], r, n)
    with pytest.raises(ValueError, match="empty"):
        score_normalize(q, r, n[:0])
    bad = q.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        score_normalize(bad, r, n)
