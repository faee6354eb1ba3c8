"""The copy index's versions: published whole, read consistently while a writer publishes, stamps compared key by key."""

import multiprocessing
import os
import signal
import time

import numpy as np
import pandas as pd
import pytest

from video_similarity.descriptors import Descriptors
from video_similarity.params import SearchIndexParams
from video_similarity.vsc.copies.index import (
    CURRENT, VERSIONS, IndexMissing, IndexStale, check_stamp, open_index, publish, stamp_differences, writer_lock,
)


EXACT = SearchIndexParams()

def _references(n: int, rows_each: int = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    ids = [f"R{k:03d}" for k in range(n)]
    table = pd.DataFrame({"ref_id": ids, "path": [f"/v/{i}.mp4" for i in ids], "archive": "", "origin": "dataset", "source_key": ""})
    features = rng.normal(size=(n * rows_each, 8)).astype(np.float32)
    stamps = np.tile(np.stack([np.arange(rows_each), np.arange(rows_each) + 1], 1), (n, 1)).astype(np.float32)
    return table, Descriptors(np.repeat(ids, rows_each), stamps, features / np.linalg.norm(features, axis=1, keepdims=True))


def test_a_published_version_reads_back_whole(tmp_path):
    table, rows = _references(4)
    shuffled = np.random.default_rng(1).permutation(len(rows))  # rows come grouped by reference, in the table's order
    name = publish(tmp_path, {"stamp": {"a": 1}, "thresholds": {"tn": {"threshold": 0.1}}}, table,
                   Descriptors(rows.video_ids[shuffled], rows.timestamps[shuffled], rows.features[shuffled]), EXACT)
    index = open_index(tmp_path)
    assert index.version == name == (tmp_path / CURRENT).read_text().strip()
    assert index.references["ref_id"].tolist() == table["ref_id"].tolist()
    assert index.descriptors.video_ids.tolist() == rows.video_ids.tolist()
    assert index.index.ntotal == 12 and index.manifest["rows"] == 12 and index.threshold("tn") == 0.1
    scores, found = index.index.search(rows.features[:1], 1)
    assert found[0, 0] == 0 and scores[0, 0] == pytest.approx(1.0, abs=1e-5)


def test_no_index_and_mismatched_tables_are_refused(tmp_path):
    with pytest.raises(IndexMissing, match="no copy index"):
        open_index(tmp_path)
    table, rows = _references(3)
    with pytest.raises(ValueError, match="different references"):
        publish(tmp_path, {}, table.iloc[:2], rows, EXACT)
    assert not (tmp_path / CURRENT).exists() and not list(tmp_path.glob(f"{VERSIONS}/*"))


def test_old_versions_are_pruned_but_the_newest_ones_kept(tmp_path):
    table, rows = _references(2)
    names = [publish(tmp_path, {}, table, rows, EXACT) for _ in range(5)]
    kept = sorted(p.name for p in (tmp_path / VERSIONS).iterdir())
    assert kept == sorted(names[-3:])


def test_stamp_differences_name_each_key():
    built = {"members": {"m": {"weights_sha256": "aa"}}, "settings": {"beta": 1.2}, "same": [1, 2]}
    now = {"members": {"m": {"weights_sha256": "bb"}}, "settings": {"beta": 1.0}, "same": [1, 2], "new": True}
    assert stamp_differences(built, now) == ['members.m.weights_sha256: "aa" -> "bb"', "new: \"<absent>\" -> true",
                                             "settings.beta: 1.2 -> 1.0"]


def test_a_stale_index_is_refused_with_what_differs(tmp_path):
    table, rows = _references(2)
    publish(tmp_path, {"stamp": {"settings": {"beta": 1.2}}}, table, rows, EXACT)
    index = open_index(tmp_path)
    check_stamp(index, {"settings": {"beta": 1.2}}, None)
    with pytest.raises(IndexStale, match=r"settings.beta: 1.2 -> 1.0.*kedro run --pipeline=vsc_matching --env=vsc"):
        check_stamp(index, {"settings": {"beta": 1.0}}, "vsc")


def _publish_forever(root: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    while True:
        table, rows = _references(int(rng.integers(1, 30)), int(rng.integers(1, 5)), int(rng.integers(1000)))
        with writer_lock(root):
            publish(root, {"stamp": {}}, table, rows, EXACT)


def test_a_reader_never_sees_a_partial_index_while_writers_publish(tmp_path):
    table, rows = _references(3)
    publish(tmp_path, {"stamp": {}}, table, rows, EXACT)
    context = multiprocessing.get_context("spawn")
    writers = [context.Process(target=_publish_forever, args=(str(tmp_path), s), daemon=True) for s in (1, 2)]
    for writer in writers:
        writer.start()
    versions, deadline = set(), time.monotonic() + 8
    try:
        while time.monotonic() < deadline:
            index = open_index(tmp_path)  # raises on files that disagree
            assert index.index.ntotal == len(index.descriptors) == index.manifest["rows"]
            assert set(index.references["ref_id"]) == set(index.descriptors.video_ids)
            versions.add(index.version)
    finally:
        for writer in writers:
            os.kill(writer.pid, signal.SIGKILL)  # killed mid-publish, as a user's Ctrl-\ would
            writer.join()
    assert len(versions) > 3  # the reader did see the writers' versions
    index = open_index(tmp_path)  # after the kills: one whole version
    assert index.index.ntotal == len(index.descriptors)
