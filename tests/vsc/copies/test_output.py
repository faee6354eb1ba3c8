"""The answers' formats: JSON round-trips, CSV has one row per match, clock times."""

import io
import json

import pandas as pd

from video_similarity.vsc.copies.output import as_csv, as_json, as_table, clock
from video_similarity.vsc.copies.service import FindResult, VideoResult


def _found():
    matches = pd.DataFrame({"ref_id": ["R1", "R2"], "ref_path": ["/r/R1.mp4", "/r/R2.mp4"], "query_start": [1.0, 0.0],
                            "query_end": [4.5, 2.0], "ref_start": [3661.25, 0.0], "ref_end": [3664.75, 2.0], "score": [0.61, 0.2]})
    results = [VideoResult("q.mp4", matches, video_id="q"), VideoResult("none.mp4", matches.iloc[:0], video_id="n"),
               VideoResult("bad.mp4", error="bad.mp4: file is empty (0 bytes)")]
    return FindResult(results, 0.15, "network", index=None)


def test_clock():
    assert clock(0) == "0:00:00.0" and clock(3661.25) == "1:01:01.2" and clock(59.96) == "0:01:00.0"


def test_json_round_trips_every_match_and_names_the_unread_input():
    doc = json.loads(as_json(_found()))
    assert [d["video"] for d in doc] == ["q.mp4", "none.mp4", "bad.mp4"]
    first = doc[0]["matches"][0]
    assert first == {"ref_id": "R1", "ref_path": "/r/R1.mp4", "query_start": 1.0, "query_end": 4.5, "ref_start": 3661.25,
                     "ref_end": 3664.75, "score": 0.61}
    assert doc[1]["matches"] == [] and "error" not in doc[1] and doc[2] == {"video": "bad.mp4", "matches": [],
                                                                           "error": "bad.mp4: file is empty (0 bytes)"}


def test_csv_and_table():
    rows = pd.read_csv(io.StringIO(as_csv(_found())))
    assert rows["video"].tolist() == ["q.mp4", "q.mp4"] and rows["ref_id"].tolist() == ["R1", "R2"]
    table = as_table(_found())
    assert "q.mp4: 2 copied segments" in table and "1:01:01.2-1:01:04.8" in table and "none.mp4: 0 copied segments" in table
    assert "bad.mp4" not in table and "threshold 0.1500 (network localiser)" in table
