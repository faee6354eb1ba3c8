"""Similarity functions: the batched engine against explicit loops, hand-computed cases, and errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from video_similarity.metrics import similarity as sim
from video_similarity.metrics.similarity import (
    METHODS,
    l2_normalize,
    pair_similarity,
    similarity_matrix,
    to_json_ready,
)

TOL = {"rtol": 1e-5, "atol": 1e-6}


def brute_force(q: np.ndarray, t: np.ndarray, method: str, k: int = 3) -> float:
    """The spec's section 6 written as plain loops in float64."""
    q, t = q.astype(np.float64), t.astype(np.float64)
    if method == "video_level":
        mq, mt = q.sum(axis=0) / len(q), t.sum(axis=0) / len(t)
        return float(sum(a * b for a, b in zip(mq, mt)) / (np.sqrt(mq @ mq) * np.sqrt(mt @ mt)))
    s = [[float(sum(q[i, d] * t[j, d] for d in range(q.shape[1]))) for j in range(len(t))] for i in range(len(q))]
    row_max = [max(s[i][j] for j in range(len(t))) for i in range(len(q))]
    col_max = [max(s[i][j] for i in range(len(q))) for j in range(len(t))]
    if method == "chamfer":
        return sum(row_max) / len(q)
    if method == "symmetric_chamfer":
        return (sum(row_max) / len(q) + sum(col_max) / len(t)) / 2
    top = sorted(row_max, reverse=True)[:k]
    return sum(top) / len(top)


def random_videos(rng: np.random.Generator, lengths: list[int], dim: int, prefix: str) -> dict[str, np.ndarray]:
    return {f"{prefix}{i}": l2_normalize(rng.normal(size=(n, dim))) for i, n in enumerate(lengths)}


@pytest.fixture(scope="module")
def corpus() -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    rng = np.random.default_rng(7)
    # 1- and 2-frame queries (N < k = 3), a 3-frame one (N == k), longer ones; a database with
    # 1-frame videos and a 40-frame video, longer than the small chunk_frames used below
    queries = random_videos(rng, [1, 2, 3, 5, 12, 30], 16, "q")
    database = random_videos(rng, [1, 7, 40, 1, 3, 15, 2, 9, 25, 1, 6], 16, "v")
    return queries, database


def expected(queries: dict, database: dict, method: str, k: int = 3) -> np.ndarray:
    return np.array([[brute_force(q, t, method, k) for t in database.values()] for q in queries.values()])


def as_array(result: dict[str, dict[str, float]], queries: dict, database: dict) -> np.ndarray:
    assert list(result) == list(queries)
    assert all(list(row) == list(database) for row in result.values())
    return np.array([[result[q][v] for v in database] for q in queries])


@pytest.mark.parametrize("chunk_frames", [1, 10, 32, 200_000])
@pytest.mark.parametrize("method", METHODS)
def test_engine_matches_brute_force(corpus, method: str, chunk_frames: int) -> None:
    queries, database = corpus
    result = similarity_matrix(queries, database, method, chunk_frames=chunk_frames, progress=False)
    np.testing.assert_allclose(as_array(result, queries, database), expected(queries, database, method), **TOL)


@pytest.mark.parametrize("k", [1, 2, 5, 50])
def test_topk_other_k(corpus, k: int) -> None:
    queries, database = corpus
    result = similarity_matrix(queries, database, "topk_chamfer", k=k, chunk_frames=20, progress=False)
    np.testing.assert_allclose(as_array(result, queries, database), expected(queries, database, "topk_chamfer", k), **TOL)


@pytest.mark.parametrize("method", METHODS)
def test_pair_similarity_matches_brute_force(corpus, method: str) -> None:
    queries, database = corpus
    got = np.array([[pair_similarity(q, t, method) for t in database.values()] for q in queries.values()])
    np.testing.assert_allclose(got, expected(queries, database, method), **TOL)


@pytest.mark.parametrize("method", ["chamfer", "symmetric_chamfer", "topk_chamfer"])
def test_small_tiles_split_queries_and_videos(corpus, monkeypatch, method: str) -> None:
    """Tiny tiles and query groups: every query group x video group tile, oversize ones alone."""
    monkeypatch.setattr(sim, "TILE_ELEMENTS", 50)
    monkeypatch.setattr(sim, "QUERY_GROUP_ROWS", 4)
    queries, database = corpus
    result = similarity_matrix(queries, database, method, chunk_frames=30, progress=False)
    np.testing.assert_allclose(as_array(result, queries, database), expected(queries, database, method), **TOL)


@pytest.mark.parametrize("method", METHODS)
def test_identical_videos_score_one(method: str) -> None:
    rng = np.random.default_rng(1)
    video = l2_normalize(rng.normal(size=(6, 8)))
    result = similarity_matrix({"q": video}, {"same": video.copy()}, method, progress=False)
    assert result["q"]["same"] == pytest.approx(1.0, abs=1e-6)
    assert pair_similarity(video, video, method) == pytest.approx(1.0, abs=1e-6)


def test_chamfer_asymmetry_by_hand() -> None:
    # Unit basis vectors e1, e2, e3. Query Q = [e1, e2] is contained in target T = [e1, e2, e3].
    # S = Q T^T = [[1, 0, 0],
    #              [0, 1, 0]]
    # CS(Q, T) = mean of row maxima    = (1 + 1) / 2     = 1
    # CS(T, Q) = mean of column maxima = (1 + 1 + 0) / 3 = 2/3
    # symmetric = (1 + 2/3) / 2 = 5/6
    # top-3 Chamfer: m = [1, 1], N = 2 < k = 3, so the mean of all of m = 1
    # video-level: means (1/2, 1/2, 0) and (1/3, 1/3, 1/3); cosine = (1/3) / (sqrt(1/2) sqrt(1/3)) = sqrt(2/3)
    e = np.eye(3, dtype=np.float32)
    q, t = e[:2], e
    want = {"chamfer": 1.0, "symmetric_chamfer": 5 / 6, "topk_chamfer": 1.0, "video_level": np.sqrt(2 / 3)}
    for method, value in want.items():
        forward = similarity_matrix({"Q": q}, {"T": t}, method, progress=False)["Q"]["T"]
        assert forward == pytest.approx(value, abs=1e-6), method
        assert pair_similarity(q, t, method) == pytest.approx(value, abs=1e-6), method
    backward = similarity_matrix({"T": t}, {"Q": q}, "chamfer", progress=False)["T"]["Q"]
    assert backward == pytest.approx(2 / 3, abs=1e-6)  # CS(T, Q) < 1: Chamfer is not symmetric


def test_topk_picks_the_k_best_frames() -> None:
    # query frames' best matches m = [1, 0.8, 0.6, 0, 0] -> top-3 mean = 0.8, Chamfer = 2.4 / 5 = 0.48
    target = np.eye(4, dtype=np.float32)[:1]  # one frame, e1
    angles = np.array([1.0, 0.8, 0.6, 0.0, 0.0], np.float32)
    query = np.zeros((5, 4), np.float32)
    query[:, 0] = angles
    query[:, 1] = np.sqrt(1 - angles**2)
    assert pair_similarity(query, target, "topk_chamfer") == pytest.approx(0.8, abs=1e-6)
    assert pair_similarity(query, target, "chamfer") == pytest.approx(0.48, abs=1e-6)
    result = similarity_matrix({"q": query}, {"t": target}, "topk_chamfer", progress=False)
    assert result["q"]["t"] == pytest.approx(0.8, abs=1e-6)


@pytest.mark.parametrize("method", METHODS)
def test_zero_frame_video_is_named(method: str) -> None:
    good = l2_normalize(np.ones((3, 4)))
    with pytest.raises(ValueError, match="'empty_video'"):
        similarity_matrix({"q": good}, {"ok": good, "empty_video": np.zeros((0, 4), np.float32)}, method, progress=False)
    with pytest.raises(ValueError, match="'empty_query'"):
        similarity_matrix({"empty_query": np.zeros((0, 4))}, {"ok": good}, method, progress=False)


def test_unknown_method_lists_methods() -> None:
    x = l2_normalize(np.ones((2, 4)))
    for call in (lambda: similarity_matrix({"q": x}, {"t": x}, "cosine"), lambda: pair_similarity(x, x, "cosine")):
        with pytest.raises(ValueError, match="cosine") as info:
            call()
        assert all(m in str(info.value) for m in METHODS)


def test_bad_inputs() -> None:
    x = l2_normalize(np.ones((2, 4)))
    with pytest.raises(ValueError, match="dimensions"):
        similarity_matrix({"q": x}, {"t": l2_normalize(np.ones((2, 5)))}, "chamfer")
    with pytest.raises(ValueError, match="2-D"):
        similarity_matrix({"q": x}, {"t": np.ones(4)}, "chamfer")
    with pytest.raises(ValueError, match="k >= 1"):
        similarity_matrix({"q": x}, {"t": x}, "topk_chamfer", k=0)
    with pytest.raises(ValueError, match="chunk_frames"):
        similarity_matrix({"q": x}, {"t": x}, "chamfer", chunk_frames=0)


def test_empty_inputs() -> None:
    x = l2_normalize(np.ones((2, 4)))
    assert similarity_matrix({}, {"t": x}, "chamfer") == {}
    assert similarity_matrix({"q": x}, {}, "chamfer") == {"q": {}}


def test_l2_normalize_keeps_zero_rows() -> None:
    x = np.array([[3.0, 4.0], [0.0, 0.0]])
    out = l2_normalize(x)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.0, 0.0]])
    np.testing.assert_allclose(l2_normalize(np.array([0.0, 2.0])), [0.0, 1.0])


def test_to_json_ready() -> None:
    x = l2_normalize(np.ones((2, 4)))
    ready = to_json_ready({"q": {"t": np.float32(0.5)}, "r": similarity_matrix({"r": x}, {"t": x}, "chamfer")["r"]})
    assert type(ready["q"]["t"]) is float
    assert json.loads(json.dumps(ready)) == ready
