"""pack_database_shards follows its inputs: reused while the feature items stand, remade when one changes."""

import os

import numpy as np
import pandas as pd

from video_similarity.cache import item_path, write_item
from video_similarity.datasets.directory import Directory
from video_similarity.metrics.similarity import l2_normalize
from video_similarity.pipelines.retrieval.nodes import pack_database_shards
from video_similarity.retrieval.shards import FrameShards


def _index():
    return pd.DataFrame({"video_id": ["q1", "v1", "v2", "t1"], "split": ["eval", "eval", "eval", "train"],
                         "role": ["query", "database", "database", "train"], "path": ["a", "b", "c", "d"]})


def test_shards_are_reused_until_a_feature_item_changes(tmp_path):
    features, store = tmp_path / "features", Directory(tmp_path / "shards")
    rng = np.random.default_rng(0)
    for video in ("q1", "v1", "v2", "t1"):
        write_item(features, video, "k", features=l2_normalize(rng.normal(size=(3, 8))))
    manifest = {"enc": {"folder": str(features)}}
    first = pack_database_shards(_index(), manifest, {}, store)
    assert first["enc"]["videos"] == 3 and first["enc"]["storage"] == "float16"  # the eval split only
    shard = store.path / "enc" / "shard_00000.npy"
    written = shard.stat().st_mtime_ns
    pack_database_shards(_index(), manifest, {}, store)
    assert shard.stat().st_mtime_ns == written  # nothing changed: reused

    changed = l2_normalize(rng.normal(size=(5, 8)))
    write_item(features, "v2", "k2", features=changed)
    os.utime(item_path(features, "v2"), ns=(written + 10**9, written + 10**9))
    again = pack_database_shards(_index(), manifest, {}, store)
    assert again["enc"]["rows"] == 11
    shards = FrameShards.open(store.path / "enc")
    np.testing.assert_allclose(shards.rows(shards.video_ids.index("v2")), changed, atol=1e-3)


def test_no_shards_when_reranking_is_off(tmp_path):
    assert pack_database_shards(_index(), {"enc": {"folder": str(tmp_path)}}, {"similarity": {"rerank_fraction": None}},
                                Directory(tmp_path / "shards")) == {}
