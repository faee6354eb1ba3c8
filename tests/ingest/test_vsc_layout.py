"""Ingest validation on small broken fixtures: one test per problem class."""

import json

import pytest

from video_similarity.ingest.problems import DatasetUnusableError
from video_similarity.ingest.vsc_layout import discover_splits, index_vsc_layout, ingest_report

HEADER = "video_id,duration_sec,frames_per_sec,width,height,rn\n"


def make_layout(root, split="train", queries=("Q1", "Q2"), refs=("R1", "R2"), gt="Q1,R1,0,5,10,15\n"):
    """A valid VSC-layout split (videos are empty files: ingest reads no pixels)."""
    for role, ids in (("query", queries), ("reference", refs)):
        folder = root / split / role
        folder.mkdir(parents=True, exist_ok=True)
        rows = "".join(f"{i},30.0,25.0,320,240,7\n" for i in ids)
        (root / f"{split}_{role}_metadata.csv").write_text(HEADER + rows)
        for i in ids:
            (folder / f"{i}.mp4").write_bytes(b"")
    if gt is not None:
        (root / f"{split}_matching_ground_truth.csv").write_text(
            "query_id,ref_id,query_start,query_end,ref_start,ref_end\n" + gt
        )
    return root


def kinds(index):
    return [p.kind for p in index.problems.problems]


def test_valid_layout_is_indexed_without_problems(tmp_path):
    index = index_vsc_layout(make_layout(tmp_path))
    assert kinds(index) == []
    assert list(index.videos.columns) == ["video_id", "split", "role", "path", "duration", "fps", "width", "height"]
    assert sorted(index.videos["video_id"]) == ["Q1", "Q2", "R1", "R2"]
    assert set(index.videos["role"]) == {"query", "reference"}
    assert index.videos["path"].map(lambda p: p.endswith(".mp4")).all()
    assert index.matching[["query_id", "ref_id", "query_end"]].values.tolist() == [["Q1", "R1", 5.0]]
    # without a descriptor file, the pairs come from the matching ground truth
    assert index.pairs[["query_id", "ref_id"]].values.tolist() == [["Q1", "R1"]]


def test_splits_are_discovered_not_assumed(tmp_path):
    make_layout(tmp_path, "test")
    make_layout(tmp_path, "phase2", queries=("Q9",), refs=("R9",), gt=None)
    make_layout(tmp_path, "val", queries=("Q5",), refs=("R5",), gt=None)
    assert discover_splits(tmp_path) == ["val", "test", "phase2"]
    index = index_vsc_layout(tmp_path, splits=["val"])
    assert index.splits == ["val"] and set(index.videos["video_id"]) == {"Q5", "R5"}
    with pytest.raises(DatasetUnusableError, match="split\\(s\\) \\['train'\\] have no metadata"):
        index_vsc_layout(tmp_path, splits=["train"])


def test_metadata_row_without_video(tmp_path):
    make_layout(tmp_path)
    (tmp_path / "train" / "query" / "Q2.mp4").unlink()
    index = index_vsc_layout(tmp_path)
    (problem,) = index.problems.problems
    assert problem.kind == "missing_video" and problem.item == "Q2"
    assert problem.file.endswith("train_query_metadata.csv")
    assert "Q2" not in set(index.videos["video_id"]) and "Q1" in set(index.videos["video_id"])


def test_video_without_metadata_row(tmp_path):
    make_layout(tmp_path)
    (tmp_path / "train" / "reference" / "R3.mp4").write_bytes(b"")
    index = index_vsc_layout(tmp_path)
    (problem,) = index.problems.problems
    assert (problem.kind, problem.item) == ("orphan_video", "R3")
    assert problem.file.endswith("R3.mp4") and "train_reference_metadata.csv" in problem.problem
    assert "R3" not in set(index.videos["video_id"])


def test_metadata_file_missing_for_existing_videos(tmp_path):
    make_layout(tmp_path)
    (tmp_path / "train_reference_metadata.csv").unlink()
    index = index_vsc_layout(tmp_path, splits=["train"])
    assert "missing_metadata" in kinds(index)
    # the ground truth now names unknown references
    assert "unknown_id" in kinds(index)
    assert set(index.videos["role"]) == {"query"}


def test_duplicate_ids_keep_the_first_row(tmp_path):
    make_layout(tmp_path)
    meta = tmp_path / "train_query_metadata.csv"
    meta.write_text(meta.read_text() + "Q1,99.0,25.0,320,240,1\n")
    make_layout(tmp_path, "test", queries=("Q7",), refs=("R1",), gt=None)  # R1 again, in another split
    index = index_vsc_layout(tmp_path)
    dupes = [p for p in index.problems.problems if p.kind == "duplicate_id"]
    assert sorted(p.item for p in dupes) == ["Q1", "R1"]
    assert index.videos.set_index("video_id").loc["Q1", "duration"] == 30.0
    assert index.videos["video_id"].is_unique
    assert "orphan_video" not in kinds(index)  # a duplicate's file is not an orphan


@pytest.mark.parametrize(
    "row, field",
    [
        ("Q3,abc,25.0,320,240,1", "duration_sec"),
        ("Q3,10.0,-25,320,240,1", "frames_per_sec"),
        ("Q3,10.0,25.0,320.5,240,1", "width"),
        ("Q3,10.0,25.0,320,,1", "height"),
        (",10.0,25.0,320,240,1", "empty video_id"),
        ("Q3,nan,25.0,320,240,1", "duration_sec"),
    ],
)
def test_malformed_rows_are_skipped_with_their_line(tmp_path, row, field):
    make_layout(tmp_path)
    if row.startswith("Q3"):
        (tmp_path / "train" / "query" / "Q3.mp4").write_bytes(b"")
    meta = tmp_path / "train_query_metadata.csv"
    meta.write_text(meta.read_text() + row + "\n")
    index = index_vsc_layout(tmp_path)
    (problem,) = index.problems.problems
    assert problem.kind == "malformed_row" and field in problem.problem
    assert "line 4" in problem.problem or problem.item == "line 4"
    assert len(index.videos) == 4


def test_bad_header_skips_the_file(tmp_path):
    make_layout(tmp_path)
    (tmp_path / "train_reference_metadata.csv").write_text("id,seconds\nR1,3\n")
    index = index_vsc_layout(tmp_path)
    assert "bad_header" in kinds(index)
    problem = next(p for p in index.problems.problems if p.kind == "bad_header")
    assert "duration_sec" in problem.problem and problem.file.endswith("train_reference_metadata.csv")


def test_ground_truth_with_unknown_ids_or_bad_times(tmp_path):
    gt = "Q1,R1,0,5,10,15\nQ404,R1,0,5,10,15\nQ2,R404,0,5,10,15\nQ2,R2,5,1,0,4\nQ2,R2,a,1,0,4\n"
    make_layout(tmp_path, gt=gt)
    (tmp_path / "train_descriptor_ground_truth.csv").write_text("query_id,ref_id\nQ1,R1\nQ2,R2\nQ3,R1\n")
    index = index_vsc_layout(tmp_path)
    problems = {(p.kind, p.item) for p in index.problems.problems}
    assert ("unknown_id", "Q404/R1") in problems
    assert ("unknown_id", "Q2/R404") in problems
    assert ("unknown_id", "Q3/R1") in problems
    assert sum(p.kind == "malformed_row" for p in index.problems.problems) == 2
    assert index.matching[["query_id", "ref_id"]].values.tolist() == [["Q1", "R1"]]
    # the descriptor file, when present, gives the pairs
    assert index.pairs[["query_id", "ref_id"]].values.tolist() == [["Q1", "R1"], ["Q2", "R2"]]


def test_report_lists_every_skipped_item_and_is_json(tmp_path):
    make_layout(tmp_path)
    (tmp_path / "train" / "query" / "Q2.mp4").unlink()
    (tmp_path / "train" / "query" / "Q8.mp4").write_bytes(b"")
    report = ingest_report(index_vsc_layout(tmp_path))
    json.dumps(report)
    assert report["n_skipped"] == 2 == len(report["skipped"])
    assert report["skipped_by_kind"] == {"missing_video": 1, "orphan_video": 1}
    assert report["counts"]["train"] == {"query": 1, "reference": 2, "ground_truth_segments": 1, "ground_truth_pairs": 1}
    assert {"file", "item", "problem", "kind"} <= set(report["skipped"][0])


def test_unusable_datasets_stop_with_a_clear_error(tmp_path):
    with pytest.raises(DatasetUnusableError, match="does not exist"):
        index_vsc_layout(tmp_path / "missing")
    (tmp_path / "file").write_text("x")
    with pytest.raises(DatasetUnusableError, match="is not a directory"):
        index_vsc_layout(tmp_path / "file")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetUnusableError, match="train_query_metadata.csv"):
        index_vsc_layout(tmp_path / "empty")
    bad = tmp_path / "bad"
    make_layout(bad)
    for role in ("query", "reference"):
        (bad / f"train_{role}_metadata.csv").write_text(HEADER + "X,oops,1,1,1,1\n")
    with pytest.raises(DatasetUnusableError, match="no usable video"):
        index_vsc_layout(bad)


def test_an_ingest_that_rejects_every_row_still_carries_its_report(tmp_path):
    root = make_layout(tmp_path, gt=None)
    for role in ("query", "reference"):
        (root / f"train_{role}_metadata.csv").write_text(HEADER + "X1,abc,25.0,320,240,7\n")  # a bad duration, no video
    with pytest.raises(DatasetUnusableError, match="every metadata row was rejected") as caught:
        index_vsc_layout(root)
    report = caught.value.report
    assert report["n_skipped"] >= 2 and {r["item"] for r in report["skipped"]} >= {"X1"}


def test_a_row_with_an_extra_field_is_one_bad_row_not_a_shift(tmp_path):
    root = make_layout(tmp_path, queries=("Q1", "Q2", "Q3"))
    (root / "train_query_metadata.csv").write_text(HEADER + "Q1,30.0,25.0,320,240,7\nQ2,30.0,25.0,320,240,7,extra\nQ3,30.0,25.0,320,240,7\n")
    index = index_vsc_layout(root)
    assert sorted(index.videos.loc[index.videos["role"] == "query", "video_id"]) == ["Q1", "Q3"]
    bad = [p for p in index.problems.problems if p.kind == "malformed_row"]
    assert len(bad) == 1 and bad[0].item == "line 3" and "7 fields where the header has 6" in bad[0].problem
    assert "orphan_video" in kinds(index)  # Q2.mp4 has no usable row: reported, not silently lost


def test_a_duplicate_id_without_its_video_does_not_shadow_the_real_one(tmp_path):
    root = make_layout(tmp_path, split="train", queries=("Q1",), gt=None)
    make_layout(tmp_path, split="test", queries=("Q7",), refs=("R7",), gt=None)
    # Q7 is listed first in train (no file there), then in test, where its file is
    (root / "train_query_metadata.csv").write_text(HEADER + "Q1,30.0,25.0,320,240,7\nQ7,30.0,25.0,320,240,7\n")
    index = index_vsc_layout(root)
    q7 = index.videos[index.videos["video_id"] == "Q7"]
    assert len(q7) == 1 and q7.iloc[0]["split"] == "test"
    dup = [p for p in index.problems.problems if p.kind == "duplicate_id"]
    assert len(dup) == 1 and "train_query_metadata.csv line 3" in dup[0].problem and "test_query_metadata.csv line 2" in dup[0].problem


def test_two_files_for_one_id_prefer_the_mp4_and_say_so(tmp_path):
    root = make_layout(tmp_path)
    (root / "train" / "query" / "Q1.avi").write_bytes(b"")
    index = index_vsc_layout(root)
    path = index.videos.set_index("video_id").loc["Q1", "path"]
    assert path.endswith("Q1.mp4")
    amb = [p for p in index.problems.problems if p.kind == "ambiguous_video"]
    assert len(amb) == 1 and amb[0].item == "Q1" and "Q1.avi, Q1.mp4" in amb[0].problem


def test_an_exact_duplicate_ground_truth_row_counts_once(tmp_path):
    root = make_layout(tmp_path, gt="Q1,R1,0,5,10,15\nQ1,R1,0,5,10,15\nQ1,R1,6,8,20,22\n")
    index = index_vsc_layout(root)
    assert len(index.matching) == 2 and len(index.pairs) == 1
    dup = [p for p in index.problems.problems if p.kind == "duplicate_row"]
    assert len(dup) == 1 and "line 3: the same row as line 2" in dup[0].problem
