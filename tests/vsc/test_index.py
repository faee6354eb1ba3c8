import numpy as np
import pytest

from video_similarity.vsc.index import build_index


def _unit(rng, n, d):
    x = rng.normal(size=(n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_flat_is_the_exact_inner_product_search():
    rng = np.random.default_rng(0)
    base, queries = _unit(rng, 200, 16), _unit(rng, 5, 16)
    scores, ids = build_index(base).search(queries, 3)
    exact = queries @ base.T
    np.testing.assert_array_equal(ids, np.argsort(-exact, axis=1)[:, :3])
    np.testing.assert_allclose(scores, np.sort(exact, axis=1)[:, ::-1][:, :3], rtol=1e-5)


def test_an_index_that_needs_training_is_trained_on_the_references():
    rng = np.random.default_rng(1)
    base = _unit(rng, 400, 8)
    index = build_index(base, "IVF4,Flat")
    assert index.is_trained and index.ntotal == 400
    _, ids = index.search(base[:10], 1)
    assert (ids[:, 0] == np.arange(10)).mean() >= 0.8  # approximate: most rows find themselves


def test_a_bad_factory_string_is_one_line_naming_the_setting():
    with pytest.raises(ValueError, match="inference.index_factory 'NoSuchIndex'") as error:
        build_index(np.zeros((4, 8), np.float32), "NoSuchIndex")
    assert "\n" not in str(error.value)
