"""The query boosters' nodes on hand-made archives: scene parts written once and reused, the skip without ground truth."""

import numpy as np
import pandas as pd

from video_similarity.datasets.directory import Directory
from video_similarity.datasets.frame_archives import FrameArchiveStore
from video_similarity.frames.archive import ArchiveSettings, FrameArchive, write_archive
from video_similarity.pipelines.infer_query.nodes import detect_query_scenes
from video_similarity.video.decode import SampledFrame
from video_similarity.pipelines.train_vid_score.nodes import split_train_val, train_video_score


def _archive(path, video_id, frames):
    write_archive(path, video_id, [SampledFrame(i, float(i), i + 1.0, f) for i, f in enumerate(frames)], ArchiveSettings(1.0, None, 95))


def _moving(rng, n, h, w):
    return [np.kron(rng.integers(0, 256, (h // 8, w // 8, 3)), np.ones((8, 8, 1))).astype(np.uint8) for _ in range(n)]


INDEX = pd.DataFrame({"video_id": ["Q1", "Q2", "Q3"], "split": "test", "role": "query", "duration": [8.0, 8.0, 8.0]})


def _store(tmp_path):
    rng = np.random.default_rng(0)
    store = tmp_path / "archives"
    store.mkdir()
    left, right = _moving(rng, 8, 160, 160), _moving(rng, 8, 160, 160)
    _archive(store / "Q1.zip", "Q1", [np.concatenate([a, np.zeros((160, 8, 3), np.uint8), b], 1) for a, b in zip(left, right)])
    _archive(store / "Q2.zip", "Q2", _moving(rng, 8, 160, 240))  # no structure: left whole
    (store / "Q3.zip").write_bytes(b"not a zip")  # a corrupt archive: recorded, the rest goes on
    return FrameArchiveStore(store)


def test_scene_parts_are_archives_with_the_querys_timestamps_reused_on_rerun(tmp_path):
    store, parts_dir = _store(tmp_path), Directory(tmp_path / "parts")
    manifest = detect_query_scenes(store, INDEX, parts_dir, {}, {"split": "test"})
    assert manifest["queries"] == 3 and list(manifest["parts"]) == ["Q1"] and "Q3" in manifest["failed"]
    boxes = [row["box"] for row in manifest["parts"]["Q1"]]
    assert len(boxes) == 2 and 158 <= boxes[0][3] <= 170 and 158 <= boxes[1][1] <= 170  # left and right of the 8-px bar
    with FrameArchive(store.path("Q1")) as whole:
        for row in manifest["parts"]["Q1"]:
            with FrameArchive(row["archive"]) as part:
                np.testing.assert_array_equal(part.timestamps, whole.timestamps)
                assert part.meta["parent"] == "Q1" and part.frame(0).shape[:2] == (row["box"][2] - row["box"][0], row["box"][3] - row["box"][1])
    written = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "parts").glob("*.zip")}
    assert detect_query_scenes(store, INDEX, parts_dir, {}, {"split": "test"})["parts"] == manifest["parts"]
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "parts").glob("*.zip")} == written  # the cache rule: nothing redone
    assert detect_query_scenes(store, INDEX, parts_dir, {"enabled": False}, {"split": "test"}) == {"enabled": False, "parts": {}}


def test_the_video_score_stage_is_skipped_without_ground_truth(tmp_path):
    index = INDEX.assign(split="train")
    no_gt = pd.DataFrame(columns=["split", "query_id", "ref_id"])
    no_folds = {"split": "train", "holdout": True, "reason": "no ground truth", "folds": []}
    result = train_video_score({}, _store(tmp_path), index, no_gt, no_folds, {}, Directory(tmp_path / "m"), Directory(tmp_path / "e"), {}, {})
    assert result == {"skipped": "split 'train' has no ground truth"}


def test_the_held_out_queries_keep_both_classes():
    labels = {f"Q{i}": int(i < 4) for i in range(10)}
    train, val = split_train_val(labels, 0.2, seed=0)
    assert not set(train) & set(val) and set(train) | set(val) == set(labels)
    assert {labels[v] for v in val} == {0, 1} and {labels[v] for v in train} == {0, 1}
