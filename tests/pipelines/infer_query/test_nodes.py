"""infer_query nodes: scene parts as archives of the query, reused on a rerun."""

import numpy as np

from tests.pipelines.conftest import QUERY_INDEX as INDEX
from tests.pipelines.conftest import query_archives as _store
from video_similarity.datasets.directory import Directory
from video_similarity.frames.archive import FrameArchive
from video_similarity.pipelines.infer_query.nodes import detect_query_scenes


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
