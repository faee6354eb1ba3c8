"""The matching track's CSV: column order, round trip, and each refusal naming the file and the row."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from video_similarity.vsc.matches import (
    MATCH_COLUMNS,
    SEGMENT_COLUMNS,
    MatchError,
    read_matches,
    validate_matches,
    write_matches,
)

HEADER = ",".join(MATCH_COLUMNS)
GOOD = ["Q1,R1,4,14,10,18,0.9", "Q1,R2,0,2.5,3,7,0.5", "Q2,R1,1,3,1,3,-0.25"]


def csv(tmp_path, *rows: str, header: str = HEADER, name: str = "preds.csv"):
    path = tmp_path / name
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def test_write_puts_columns_in_the_validators_order(tmp_path):
    df = pd.DataFrame([("Q1", "R1", 4, 14, 10, 18, 0.9)], columns=MATCH_COLUMNS)
    path = write_matches(df[MATCH_COLUMNS[::-1]], tmp_path / "out" / "matches.csv")
    assert path.read_text().splitlines()[0] == "query_id,ref_id,query_start,query_end,ref_start,ref_end,score"
    assert [p.name for p in path.parent.iterdir()] == ["matches.csv"]  # no temporary left behind


def test_round_trip_keeps_ids_and_exact_floats(tmp_path):
    df = pd.DataFrame(
        [("0001", "R1", 0.1 + 0.2, 1 / 3 + 1, 1e-9, np.pi, 1 / 7), ("Q2", "007", 2.0, 3.5, 4.0, 5.25, -1e300)],
        columns=MATCH_COLUMNS,
    )
    back = read_matches(write_matches(df, tmp_path / "m.csv"))
    assert back["query_id"].tolist() == ["0001", "Q2"] and back["ref_id"].tolist() == ["R1", "007"]
    for column in MATCH_COLUMNS[2:]:
        assert back[column].dtype == np.float64
        np.testing.assert_array_equal(back[column].to_numpy(), df[column].to_numpy(dtype=np.float64))


def test_read_returns_the_columns_in_order_with_a_fresh_index(tmp_path):
    shuffled = "score,ref_end,ref_start,query_end,query_start,ref_id,query_id"
    df = read_matches(csv(tmp_path, "0.5,18,10,14,4,R1,Q1", header=shuffled))
    assert list(df.columns) == MATCH_COLUMNS and df.index.tolist() == [0]
    assert df.iloc[0].tolist() == ["Q1", "R1", 4.0, 14.0, 10.0, 18.0, 0.5]


def test_header_only_is_an_empty_table(tmp_path):
    df = read_matches(csv(tmp_path))
    assert list(df.columns) == MATCH_COLUMNS and len(df) == 0


def test_ground_truth_gets_score_one_and_loses_extra_columns(tmp_path):
    path = csv(tmp_path, "Q1,R1,4,14,10,18,train", "Q2,R3,0,5,0,5,val", header=",".join([*SEGMENT_COLUMNS, "split"]))
    df = read_matches(path, ground_truth=True)
    assert list(df.columns) == MATCH_COLUMNS
    assert df["score"].tolist() == [1.0, 1.0] and df["score"].dtype == np.float64
    with pytest.raises(MatchError, match="missing column.*'score'"):
        read_matches(path)  # a prediction needs its score


@pytest.mark.parametrize(
    "bad_row, message",
    [
        ("Q9,R9,1,2,,4,0.5", r"row 2 \(Q9 / R9\): ref_start is missing"),
        ("Q9,R9,1,2,3,4,nan", r"row 2 \(Q9 / R9\): score is missing"),
        ("Q9,R9,1,2,3,4,abc", r"row 2 \(Q9 / R9\): score 'abc' is not a finite number"),
        ("Q9,R9,1,inf,3,4,0.5", r"row 2 \(Q9 / R9\): query_end inf is not a finite number"),
        ("Q9,R9,-1,2,3,4,0.5", r"row 2 \(Q9 / R9\): query_start -1.0 is negative"),
        ("Q9,R9,5,4,3,4,0.5", r"row 2 \(Q9 / R9\): query_start 5.0 > query_end 4.0"),
        ("Q9,R9,1,2,6,4,0.5", r"row 2 \(Q9 / R9\): ref_start 6.0 > ref_end 4.0"),
        ("Q9,R9,2,2,3,4,0.5", r"row 2 \(Q9 / R9\): zero-length segment: query_start == query_end == 2.0"),
        ("Q9,R9,1,2,4,4,0.5", r"row 2 \(Q9 / R9\): zero-length segment: ref_start == ref_end == 4.0"),
        (",R9,1,2,3,4,0.5", r"row 2 \(nan / R9\): query_id is blank"),
    ],
)
def test_bad_row_is_refused_naming_file_and_row(tmp_path, bad_row, message):
    path = csv(tmp_path, GOOD[0], bad_row, GOOD[1])
    with pytest.raises(MatchError, match=message) as exc:
        read_matches(path)
    text = str(exc.value)
    assert text.startswith(f"{path}: ") and "\n" not in text


def test_several_bad_rows_name_the_first_and_count_the_rest(tmp_path):
    with pytest.raises(MatchError, match=r"row 2 \(Q9 / R9\): query_start 5.0 > query_end 4.0 \(and 1 more row"):
        read_matches(csv(tmp_path, GOOD[0], "Q9,R9,5,4,3,4,0.5", "Q8,R8,9,1,3,4,0.5"))


def test_missing_columns_are_listed_with_those_present(tmp_path):
    path = csv(tmp_path, "Q1,R1,4,14,10,0.5", header="query_id,ref_id,query_start,query_end,ref_start,score")
    with pytest.raises(MatchError, match=r"preds.csv: missing column\(s\) \['ref_end'\]; the header has \['query_id'"):
        read_matches(path)


def test_unknown_ids_are_refused_by_name(tmp_path):
    path = csv(tmp_path, *GOOD)
    assert len(read_matches(path, query_ids=["Q1", "Q2"], ref_ids={"R1", "R2"})) == 3
    with pytest.raises(MatchError, match=r"preds.csv: row 3 \(Q2 / R1\): unknown query_id 'Q2'"):
        read_matches(path, query_ids=["Q1"])
    with pytest.raises(MatchError, match=r"preds.csv: row 2 \(Q1 / R2\): unknown ref_id 'R2'"):
        read_matches(path, ref_ids=["R1"])


@pytest.mark.parametrize("content", [None, b"", b"a,b\n1,2,3,4\n\"unclosed\n"])
def test_unreadable_files_name_the_path(tmp_path, content):
    path = tmp_path / "gt.csv"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(MatchError, match="gt.csv"):
        read_matches(path)


def test_validate_names_its_source_and_positions_not_labels():
    df = pd.DataFrame([("Q1", "R1", 4, 14, 10, 18, 0.9), ("Q2", "R2", 4, 14, 18, 10, 0.9)], columns=MATCH_COLUMNS, index=[7, 3])
    with pytest.raises(MatchError, match=r"^frame: row 2 \(Q2 / R2\): ref_start 18.0 > ref_end 10.0$"):
        validate_matches(df, source="frame")
    out = validate_matches(df.iloc[:1], source="frame")
    assert out.index.tolist() == [0] and out is not df


def test_write_refuses_a_bad_table_and_leaves_no_file(tmp_path):
    df = pd.DataFrame([("Q1", "R1", 4, 4, 10, 18, 0.9)], columns=MATCH_COLUMNS)
    with pytest.raises(MatchError, match="m.csv: row 1"):
        write_matches(df, tmp_path / "m.csv")
    assert list(tmp_path.iterdir()) == []
