import numpy as np
import pytest

from video_similarity.metrics.similarity import l2_normalize, similarity_matrix
from video_similarity.retrieval.rerank import prefilter_rerank, rerank_count
from video_similarity.retrieval.shards import FrameShards, write_shards


@pytest.fixture
def database(tmp_path):
    rng = np.random.default_rng(0)
    videos = {f"v{i:02d}": l2_normalize(rng.normal(size=(int(rng.integers(2, 12)), 24))) for i in range(40)}
    queries = {f"q{i}": l2_normalize(rng.normal(size=(int(rng.integers(2, 8)), 24))) for i in range(3)}
    queries["copy"] = l2_normalize(videos["v07"][:4] + 0.1 * rng.normal(size=(4, 24)))
    return queries, videos, tmp_path


@pytest.mark.parametrize("method", ["chamfer", "symmetric_chamfer", "topk_chamfer"])
def test_reranking_the_whole_database_is_the_exhaustive_similarity(database, method):
    queries, videos, folder = database
    write_shards(folder, videos.items(), "float32", shard_rows=50)
    reranked = prefilter_rerank(queries, FrameShards.open(folder), method, fraction=1.0, progress=False)
    exhaustive = similarity_matrix(queries, videos, method, progress=False)
    for q in queries:
        assert list(reranked[q]) == list(videos)
        np.testing.assert_allclose(list(reranked[q].values()), list(exhaustive[q].values()), rtol=1e-6)


def test_float16_storage_stays_within_its_precision_of_the_exhaustive_scores(database):
    queries, videos, folder = database
    write_shards(folder, videos.items(), "float16")
    reranked = prefilter_rerank(queries, FrameShards.open(folder), "chamfer", fraction=1.0, progress=False)
    exhaustive = similarity_matrix(queries, videos, "chamfer", progress=False)
    for q in queries:
        np.testing.assert_allclose(list(reranked[q].values()), list(exhaustive[q].values()), atol=2e-3)


def test_only_the_prefiltered_share_is_rescored_and_it_ranks_first(database):
    queries, videos, folder = database
    write_shards(folder, videos.items(), "float32")
    shards = FrameShards.open(folder)
    reranked = prefilter_rerank(queries, shards, "chamfer", fraction=0.1, progress=False)  # 4 of 40 videos per query
    exhaustive = similarity_matrix(queries, videos, "chamfer", progress=False)
    for q in queries:
        ranked = sorted(reranked[q], key=reranked[q].get, reverse=True)
        top = ranked[:4]
        for v in top:  # the re-ranked ones carry the frame-level score ...
            assert reranked[q][v] == pytest.approx(exhaustive[q][v], rel=1e-6)
        assert max(reranked[q][v] for v in ranked[4:]) < min(reranked[q][v] for v in top)  # ... and rank above the rest
    assert sorted(reranked["copy"], key=reranked["copy"].get)[-1] == "v07"


def test_the_count_is_the_fraction_with_a_floor_never_more_than_the_database():
    assert rerank_count(225_960, 0.05, 100) == 11_298
    assert rerank_count(40, 0.05, 100) == 40
    assert rerank_count(40, 0.05, None) == 2
    with pytest.raises(ValueError, match="rerank_fraction"):
        rerank_count(40, 1.5, None)


def test_the_curve_derived_from_one_pass_equals_each_count_computed_alone(database):
    from video_similarity.retrieval.rerank import reranked

    queries, videos, folder = database
    write_shards(folder, videos.items(), "float32", shard_rows=50)
    shards = FrameShards.open(folder)
    counts = [1, 4, 10, 40]
    for count, scores in zip(counts, reranked(queries, shards, "chamfer", 3, counts, progress=False)):
        alone = next(reranked(queries, shards, "chamfer", 3, [count], progress=False))
        assert scores == alone
