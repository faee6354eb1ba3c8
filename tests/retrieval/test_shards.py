import numpy as np
import pytest

from video_similarity.metrics.similarity import l2_normalize
from video_similarity.retrieval.shards import FrameShards, write_shards


def _videos(seed=0, n=7, dim=16):
    rng = np.random.default_rng(seed)
    return [(f"v{i}", l2_normalize(rng.normal(size=(int(rng.integers(1, 9)), dim)))) for i in range(n)]


@pytest.mark.parametrize(("storage", "tolerance"), [("float32", 1e-6), ("float16", 1e-3), ("int8", 1 / 127)])
def test_rows_read_back_as_stored_within_the_storage_precision(tmp_path, storage, tolerance):
    videos = _videos()
    meta = write_shards(tmp_path, iter(videos), storage, shard_rows=10)  # small shards: several of them, no video split
    shards = FrameShards.open(tmp_path)
    assert meta["shards"] > 1 and meta["rows"] == sum(len(rows) for _, rows in videos)
    assert shards.video_ids == [v for v, _ in videos]
    for i, (_, rows) in enumerate(videos):
        np.testing.assert_allclose(shards.rows(i), rows, atol=tolerance)
        np.testing.assert_allclose(shards.video_vectors[i], l2_normalize(rows.mean(axis=0)), atol=1e-6)


def test_blocks_cover_every_video_once_in_storage_order(tmp_path):
    videos = _videos(1, n=12)
    write_shards(tmp_path, iter(videos), "float32", shard_rows=20)
    shards = FrameShards.open(tmp_path)
    seen = []
    for first, last, rows in shards.blocks(9):
        assert len(rows) == shards.length[first:last].sum()
        seen += list(range(first, last))
    assert seen == list(range(len(videos)))


def test_an_unfinished_folder_is_refused_naming_it(tmp_path):
    write_shards(tmp_path, iter(_videos()), "float16")
    (tmp_path / "meta.json").unlink()
    with pytest.raises(FileNotFoundError, match="no complete frame shards"):
        FrameShards.open(tmp_path)


def test_an_unknown_storage_names_the_setting(tmp_path):
    with pytest.raises(ValueError, match="rerank_storage 'bfloat16'"):
        write_shards(tmp_path, iter(_videos()), "bfloat16")


def test_rows_that_all_point_one_way_keep_their_differences_in_float16(tmp_path):
    """An untrained network's rows differ by less than float16's step near 1: stored less their mean, their similarities survive."""
    rng = np.random.default_rng(2)
    direction = l2_normalize(rng.normal(size=(1, 64)))
    rows = l2_normalize(direction + 0.01 * rng.normal(size=(40, 64)))
    write_shards(tmp_path, [("v", rows)], "float16")
    stored = FrameShards.open(tmp_path).rows(0)
    exact = rows @ rows.T
    assert np.abs(stored @ rows.T - exact).max() < 2e-5
    assert np.abs(rows.astype(np.float16).astype(np.float32) @ rows.T - exact).max() > 1e-4  # what plain float16 would cost


@pytest.mark.parametrize("storage", ["float16", "int8"])
def test_rows_that_the_storage_holds_exactly_are_stored_as_they_are(tmp_path, storage):
    """PDQ's rows are +-1/16: exact in float16 and int8, so no mean is taken off (it would make them inexact and reorder tied scores)."""
    rows = np.where(np.random.default_rng(3).random((12, 256)) < 0.5, -1.0, 1.0).astype(np.float32) / 16
    write_shards(tmp_path, [("v", rows)], storage)
    np.testing.assert_array_equal(FrameShards.open(tmp_path).rows(0), rows)
