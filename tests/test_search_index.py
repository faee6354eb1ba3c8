import faiss
import numpy as np
import pytest

from video_similarity.descriptors import Descriptors
from video_similarity.metrics.vsc import knn_candidates
from video_similarity.params import SearchIndexParams
from video_similarity.search_index import (
    build_index, configure, describe, factory_string, index_for_search, ivf_lists, nearest, resolved_kind,
)
from video_similarity.vsc.score_norm import normalize_queries


def _unit(x):
    x = np.asarray(x, dtype=np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def planted(seed=0, dim=32, topics=16, ref_videos=160, rows=10, query_videos=24):
    """Videos whose rows sit around a video centre, centres around topics; half the query videos are noisy copies of a reference."""
    rng = np.random.default_rng(seed)
    centres = _unit(rng.normal(size=(topics, dim)))

    def videos(n):
        return _unit(centres[rng.integers(0, topics, n)] + rng.normal(size=(n, dim)) / np.sqrt(dim))

    def frames(c):
        return _unit(np.repeat(c, rows, 0) + 0.5 * rng.normal(size=(len(c) * rows, dim)) / np.sqrt(dim))

    refs = frames(videos(ref_videos))
    copied = rng.choice(ref_videos, query_videos // 2, replace=False)
    copies = _unit(refs.reshape(ref_videos, rows, dim)[copied].reshape(-1, dim) + 0.5 * rng.normal(size=(len(copied) * rows, dim)) / np.sqrt(dim))
    queries = np.vstack([copies, frames(videos(query_videos - len(copied)))])
    ids = lambda prefix, n: np.repeat([f"{prefix}{i:04d}" for i in range(n)], rows)  # noqa: E731
    times = lambda n: np.tile(np.arange(rows, dtype=np.float32), n)  # noqa: E731
    return (Descriptors(ids("Q", query_videos), times(query_videos), queries), Descriptors(ids("R", ref_videos), times(ref_videos), refs),
            {(f"Q{i:04d}", f"R{r:04d}") for i, r in enumerate(copied)})


def test_exact_is_the_brute_force_inner_product_search():
    rng = np.random.default_rng(0)
    base, queries = _unit(rng.normal(size=(200, 16))), _unit(rng.normal(size=(5, 16)))
    index = build_index(base)
    scores, ids = nearest(index, queries, 3)
    exact = queries @ base.T
    assert describe(index) == "exact"
    np.testing.assert_array_equal(ids, np.argsort(-exact, axis=1)[:, :3])
    np.testing.assert_allclose(scores, np.sort(exact, axis=1)[:, ::-1][:, :3], rtol=1e-5)


def test_auto_is_exact_below_its_size_and_ivf_from_there_on():
    params = SearchIndexParams(kind="auto", auto_min_rows=1000)
    assert resolved_kind(params, 999) == "exact" and factory_string(params, 999) == "Flat"
    assert resolved_kind(params, 1000) == "ivf" and factory_string(params, 1000) == "IVF64,Flat"  # 2 sqrt(1000) = 63 -> 64
    rng = np.random.default_rng(1)
    assert describe(build_index(_unit(rng.normal(size=(999, 8))), params)) == "exact"
    assert describe(build_index(_unit(rng.normal(size=(1000, 8))), params)) == "IVF64 nprobe 8"
    assert ivf_lists(SearchIndexParams(nlist=4096), 100_000) == 4096 and ivf_lists(SearchIndexParams(nlist=4096), 1000) == 125
    assert ivf_lists(SearchIndexParams(), 1_260_000) == 2048 and ivf_lists(SearchIndexParams(), 200_000) == 1024


@pytest.mark.parametrize("params", [SearchIndexParams(kind="ivf", nlist=16, nprobe=4), SearchIndexParams(kind="hnsw", hnsw_m=16, ef_search=64)],
                         ids=["ivf", "hnsw"])
def test_the_approximate_index_returns_the_exact_candidates_on_a_planted_set(params):
    queries, references, copies = planted()
    exact = knn_candidates(queries, references, retrieval_per_query=40, candidates_per_query=5)
    approximate = knn_candidates(queries, references, retrieval_per_query=40, candidates_per_query=5, search=params)
    assert copies <= set(zip(exact["query_id"], exact["ref_id"]))  # the planted copies are found at all
    assert approximate[["query_id", "ref_id"]].values.tolist() == exact[["query_id", "ref_id"]].values.tolist()
    np.testing.assert_allclose(approximate["score"], exact["score"], rtol=1e-5)


def test_too_few_lists_visited_loses_candidates_that_exact_search_keeps():
    """The planted set is not trivially easy: one list of 64 misses candidates (so the equality above is a real check)."""
    queries, references, _ = planted()
    exact = knn_candidates(queries, references, retrieval_per_query=40, candidates_per_query=5)
    poor = knn_candidates(queries, references, retrieval_per_query=40, candidates_per_query=5, search=SearchIndexParams(kind="ivf", nlist=64, nprobe=1))
    assert set(zip(poor["query_id"], poor["ref_id"])) != set(zip(exact["query_id"], exact["ref_id"]))


def test_a_float16_memory_map_is_indexed_in_chunks_as_the_float32_rows(tmp_path):
    rng = np.random.default_rng(2)
    rows = _unit(rng.normal(size=(1000, 16))).astype(np.float16)
    stored = np.lib.format.open_memmap(tmp_path / "rows.npy", mode="w+", dtype=np.float16, shape=rows.shape)
    stored[:] = rows
    for params in (SearchIndexParams(chunk_rows=64), SearchIndexParams(kind="ivf", nlist=8, nprobe=8, chunk_rows=64)):
        chunked = build_index(np.load(tmp_path / "rows.npy", mmap_mode="r"), params)
        whole = build_index(rows.astype(np.float32), params)
        assert chunked.ntotal == 1000
        np.testing.assert_array_equal(nearest(chunked, rows[:20].astype(np.float32), 5)[1], nearest(whole, rows[:20].astype(np.float32), 5)[1])


def test_search_settings_apply_to_an_index_read_back_from_disk(tmp_path):
    rng = np.random.default_rng(3)
    index = build_index(_unit(rng.normal(size=(800, 8))), SearchIndexParams(kind="ivf", nlist=16, nprobe=2))
    faiss.write_index(index, str(tmp_path / "index.faiss"))
    read = configure(faiss.read_index(str(tmp_path / "index.faiss")), SearchIndexParams(nprobe=8))
    assert describe(read) == "IVF16 nprobe 8"
    assert describe(configure(read, SearchIndexParams(nprobe=99))) == "IVF16 nprobe 16"  # never more than the lists


def test_score_normalisation_finds_the_same_noise_rows_through_an_approximate_index():
    queries, references, _ = planted(seed=4)
    exact = normalize_queries(queries.features, references.features, 1.2)
    approximate = normalize_queries(queries.features, references.features, 1.2, search=SearchIndexParams(kind="ivf", nlist=16, nprobe=4))
    np.testing.assert_allclose(approximate, exact, rtol=1e-5, atol=1e-6)


def test_a_bad_kind_is_one_line_naming_the_setting():
    with pytest.raises(ValueError, match=r"search_index: kind 'annoy' is not one of exact, ivf, hnsw, auto") as error:
        SearchIndexParams.from_params({"kind": "annoy"})
    assert "\n" not in str(error.value)


def test_a_one_off_search_of_few_rows_is_exact_where_building_the_index_would_cost_more():
    """Assigning every row to one of nlist lists costs an exact search of nlist rows: fewer query rows than that search exactly."""
    rows = _unit(np.random.default_rng(5).normal(size=(2000, 8)))
    params = SearchIndexParams(kind="ivf", nlist=32)
    assert describe(index_for_search(rows, 32, params)) == "exact"
    assert describe(index_for_search(rows, 33, params)) == "IVF32 nprobe 8"
    assert describe(index_for_search(rows, 10, SearchIndexParams(kind="hnsw"))) == "exact"
