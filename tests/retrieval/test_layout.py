"""Retrieval dataset folders -> video index, ground truth and a report of what is missing."""

from __future__ import annotations

import json

import pytest

from video_similarity.ingest.problems import DatasetUnusableError
from video_similarity.pipelines.retrieval.params import RetrievalParams
from video_similarity.retrieval.layout import fivr_lists, find_videos, index_retrieval_dataset


def touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"video")
    return path


@pytest.fixture
def fivr_root(tmp_path):
    for name in ("q1.mp4", "q2.webm", "a.mp4", "b.mkv", "t1.mp4", "notes.txt"):
        touch(tmp_path / "videos" / name)
    annotation = {"q1": {"ND": ["a"], "IS": ["zz"]}, "q2": {"DS": ["b"]}, "t1": {"ND": ["a"]}}
    (tmp_path / "annotation.json").write_text(json.dumps(annotation))
    (tmp_path / "queries.txt").write_text("q1\nq2\nq3\n")
    (tmp_path / "database.txt").write_text("a\nb\nc\nq1\n")
    (tmp_path / "train.txt").write_text("t1\n")
    return tmp_path


def params(root, **extra) -> RetrievalParams:
    return RetrievalParams.from_params({
        "benchmark": "fivr", "video_dir": "videos", "subset": "mini",
        "subsets": {"mini": {"queries": str(root / "queries.txt"), "database": str(root / "database.txt")}},
        "annotation": str(root / "annotation.json"), **extra,
    })


def test_find_videos_uses_relative_ids_and_reports_duplicates(tmp_path):
    from video_similarity.ingest.problems import ProblemLog

    touch(tmp_path / "1" / "1_1_Y.flv")
    touch(tmp_path / "1" / "1_1_Y.mp4")
    touch(tmp_path / "2" / "2_3_Y.wmv")
    touch(tmp_path / "readme.md")
    problems = ProblemLog()
    found = find_videos(tmp_path, problems=problems)
    assert sorted(found) == ["1/1_1_Y", "2/2_3_Y"] and found["1/1_1_Y"].suffix == ".flv"
    assert [p.kind for p in problems.problems] == ["duplicate_id"]
    with pytest.raises(DatasetUnusableError, match="does not exist"):
        find_videos(tmp_path / "nope")


def test_fivr_index_lists_missing_videos_without_failing(fivr_root):
    index, gt, report = index_retrieval_dataset(fivr_root, params(fivr_root, train=str(fivr_root / "train.txt"), train_annotation=str(fivr_root / "annotation.json")))
    rows = index.set_index("video_id")
    assert rows.loc["q1", "role"] == "query"  # a query also listed in the database stays a query, once
    assert list(index["video_id"]) == ["q1", "q2", "a", "b", "t1"]
    assert rows.loc["t1", "split"] == "train" and rows.loc["a", "split"] == "eval"
    assert report["missing_videos"] == {"query": ["q3"], "database": ["c"], "train": []}
    assert report["counts"]["found"] == {"query": 2, "database": 2, "train": 1}
    assert gt["queries"] == ["q1", "q2", "q3"] and gt["database"] == ["a", "b", "c", "q1"]
    assert set(gt["annotation"]) == {"q1", "q2"}  # q3 has no annotation entry: reported
    assert [p["item"] for p in report["problems"]] == ["q3"]
    assert gt["train_annotation"] == {"t1": {"ND": ["a"]}}


def test_no_query_found_is_unusable(fivr_root):
    for name in ("q1.mp4", "q2.webm"):
        (fivr_root / "videos" / name).unlink()
    with pytest.raises(DatasetUnusableError, match="none of the 3 query videos"):
        index_retrieval_dataset(fivr_root, params(fivr_root))


def test_fivr_200k_lists_default_to_annotation_and_folder(fivr_root):
    found = find_videos(fivr_root / "videos")
    annotation = json.loads((fivr_root / "annotation.json").read_text())
    queries, database, source = fivr_lists(RetrievalParams.from_params({"subset": "200k", "subsets": {"200k": {"queries": None, "database": None}}}), annotation, found)
    assert queries == ["q1", "q2", "t1"] and database == ["a", "b"]
    assert "every annotated query" in source and "every other video" in source
    with pytest.raises(ValueError, match="not among retrieval.subsets"):
        fivr_lists(RetrievalParams.from_params({"subset": "1k", "subsets": {}}), annotation, found)


def test_cc_web_index_uses_the_ground_truth_ids(tmp_path):
    gt = {
        "queries": ["1/1_1_Y"], "index": {"1/1_1_Y": 1, "1/1_2_Y": 2, "1/1_3_Y": 3},
        "ground_truth": [{"1": "E", "2": "S", "3": "X"}], "excluded": [[]],
    }
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    touch(tmp_path / "v" / "1" / "1_1_Y.flv")
    touch(tmp_path / "v" / "1" / "1_2_Y.mp4")
    index, truth, report = index_retrieval_dataset(tmp_path, RetrievalParams.from_params({"benchmark": "cc_web", "video_dir": "v", "ground_truth": str(tmp_path / "gt.json")}))
    assert list(index["video_id"]) == ["1/1_1_Y", "1/1_2_Y"] and truth["benchmark"] == "cc_web"
    assert report["missing_videos"]["database"] == ["1/1_3_Y"]


def test_unknown_benchmark_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="benchmark must be one of"):
        index_retrieval_dataset(tmp_path, RetrievalParams.from_params({"benchmark": "vcdb"}))


def test_extensions_limit_what_is_indexed_and_a_missing_annotation_is_named(fivr_root):
    index, _, report = index_retrieval_dataset(fivr_root, params(fivr_root, extensions=[".mp4"]))
    assert list(index["video_id"]) == ["q1", "a"]  # q2.webm and b.mkv are not indexed
    assert report["missing_videos"]["query"] == ["q2", "q3"]
    with pytest.raises(DatasetUnusableError, match="retrieval.annotation is not set"):
        index_retrieval_dataset(fivr_root, params(fivr_root, annotation=None))
