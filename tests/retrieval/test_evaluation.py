"""Scoring a retrieval run: each similarity file's FIVR mAPs, the all_db convention, what was missing or failed."""

import json

import pytest

from video_similarity.retrieval.evaluation import score_similarities

# one query whose ND video "a" is missing from the folder; "b" is its DS video, "x" unrelated
GROUND_TRUTH = {"benchmark": "fivr", "subset": "5k", "queries": ["q"], "database": ["a", "b", "x"],
                "annotation": {"q": {"ND": ["a"], "DS": ["b"]}}}
INGEST = {"counts": {"missing": {"query": 0, "database": 1}}, "lists": "5k lists", "missing_videos": {"query": [], "database": ["a"]}}
FEATURES = {"enc": {"weights": "none (random init, seed 0)", "options": {}}}


@pytest.fixture
def similarities(tmp_path):
    out = {}
    for method, scores in (("video_level", {"x": 0.9, "b": 0.5}), ("chamfer", {"b": 0.9, "x": 0.1})):
        path = tmp_path / f"enc__{method}.json"
        path.write_text(json.dumps({"q": scores}))
        out[f"enc__{method}"] = {"encoder": "enc", "similarity": method, "path": str(path), "videos_without_features": []}
    return out


def test_the_missing_video_counts_as_a_miss_under_all_and_is_left_out_under_available(similarities):
    every = score_similarities(similarities, GROUND_TRUTH, FEATURES, INGEST, "all")
    rows = {r["similarity"]: r for r in every["rows"]}
    assert rows["chamfer"]["DSVR"] == pytest.approx(0.5)  # b first, a never retrieved: AP (1/1) / 2 positives
    assert rows["video_level"]["DSVR"] == pytest.approx(0.25)  # b second
    available = {r["similarity"]: r for r in score_similarities(similarities, GROUND_TRUTH, FEATURES, INGEST, "available")["rows"]}
    assert available["chamfer"]["DSVR"] == pytest.approx(1.0)  # 'a' was never decoded: not a positive to find
    assert every["missing_videos"] == 1 and "videos missing from the folder: 1 of 4 listed (e.g. a)" in every["notes"]
    assert every["frame_vs_video"]["enc"]["gain"] == pytest.approx(0.25) and every["title"] == "FIVR (5k)"
