"""The matching-track command: two lines of 6 decimals, or exit status 2 with one line naming the file."""

from __future__ import annotations

import pytest

from video_similarity.metrics.matching import main

HEADER = "query_id,ref_id,query_start,query_end,ref_start,ref_end,score"


def write(tmp_path, name: str, *rows: str, header: str = HEADER) -> str:
    path = tmp_path / name
    path.write_text("\n".join([header, *rows]) + "\n")
    return str(path)


def task(tmp_path, *prediction_rows: str) -> list[str]:
    gt = write(tmp_path, "gt.csv", "Q1,R1,4,14,10,18,train", "Q2,R3,0,8,0,8,train",
               header="query_id,ref_id,query_start,query_end,ref_start,ref_end,split")
    return ["--predictions", write(tmp_path, "preds.csv", *prediction_rows), "--ground-truth", gt]


def test_prints_segment_ap_and_pairwise_uap(tmp_path, capsys):
    # Q1/R1 exactly, Q2/R3 with the right query window but reference 30..38 (no overlap), a wrong pair
    args = task(tmp_path, "Q1,R1,4,14,10,18,0.9", "Q2,R3,0,8,30,38,0.5", "Q5,R5,0,8,0,8,0.7")
    assert main(args) == 0
    # segment: after 0.9, R = sqrt(10/18 * 8/16) = 0.527046, P = 1; later groups add no recall.
    # pairwise: Q1/R1 (hit), Q5/R5 (miss), Q2/R3 (hit): (1 + 2/3) / 2
    assert capsys.readouterr().out == "segment AP: 0.527046\npairwise uAP: 0.833333\n"


def test_exact_box_scores_one(tmp_path, capsys):
    args = task(tmp_path, "Q1,R1,4,14,10,18,0.9", "Q2,R3,0,8,0,8,0.8")
    assert main(args) == 0
    assert capsys.readouterr().out == "segment AP: 1.000000\npairwise uAP: 1.000000\n"


def error_line(args: list[str], capsys) -> str:
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "error: " in err[-1] and sum("error:" in line for line in err) == 1  # usage, then one line
    return err[-1]


def test_missing_file_exits_2(tmp_path, capsys):
    args = task(tmp_path, "Q1,R1,4,14,10,18,0.9")
    args[1] = str(tmp_path / "nowhere.csv")
    line = error_line(args, capsys)
    assert "nowhere.csv: file not found" in line


def test_start_after_end_exits_2_naming_file_and_row(tmp_path, capsys):
    args = task(tmp_path, "Q1,R1,4,14,10,18,0.9", "Q1,R2,5,4,10,18,0.3")
    line = error_line(args, capsys)
    assert line.endswith("preds.csv: row 2 (Q1 / R2): query_start 5.0 > query_end 4.0")


def test_bad_ground_truth_exits_2(tmp_path, capsys):
    args = task(tmp_path, "Q1,R1,4,14,10,18,0.9")
    args[3] = write(tmp_path, "bad_gt.csv", "Q1,R1,4,14,10,-18", header=",".join(HEADER.split(",")[:6]))
    line = error_line(args, capsys)
    assert "bad_gt.csv: row 1 (Q1 / R1): ref_end -18.0 is negative" in line
