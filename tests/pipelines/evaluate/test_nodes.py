"""evaluate nodes: a submission is scored within its budget; the per-edit breakdown and the report."""

import numpy as np
import pandas as pd
import pytest

from tests.pipelines.conftest import FIXED_SETTINGS as SETTINGS
from tests.pipelines.conftest import unit_descriptors as _descriptors
from video_similarity.descriptors import SubmissionError
from video_similarity.pipelines.evaluate.nodes import (
    _edit_breakdown,
    _markdown,
    score_submission,
)
from video_similarity.pipelines.infer_query.nodes import make_query_submission
from video_similarity.pipelines.infer_ref.nodes import make_reference_submission

INDEX = pd.DataFrame({"video_id": ["Q1", "R1", "Q9"], "split": ["train", "train", "test"], "role": ["query", "reference", "query"], "duration": [2.0, 3.0, 50.0]})


def test_submission_keeps_shapes_and_scoring_enforces_the_budget():
    query, reference, noise = _descriptors(["Q1", "Q1"]), _descriptors(["R1", "R1", "R1"], seed=1), _descriptors(["N"] * 5, seed=2)
    q, r = make_query_submission(query, noise, None, SETTINGS), make_reference_submission(reference, noise)
    assert q.features.shape == (2, 4) and r.features.shape == (3, 4) and q.features.dtype == np.float32
    metrics, candidates = score_submission(q, r, {("Q1", "R1")}, INDEX, "train")
    assert metrics["uAP"] == 1.0 and metrics["positives_retrieved"] == 1 and len(candidates) == 1
    too_many = _descriptors(["Q1"] * 3)
    with pytest.raises(SubmissionError, match="budget"):  # 3 query descriptors, 2 s of train queries (the 50 s test query does not count)
        score_submission(too_many, r, {("Q1", "R1")}, INDEX, "train")


def test_edit_breakdown_and_markdown():
    candidates = pd.DataFrame({"query_id": ["Q1", "Q2", "Q3"], "ref_id": ["R1", "R2", "R1"], "score": [3.0, 2.0, 1.0]})
    edits = pd.DataFrame({"split": ["test"] * 3, "query_id": ["Q1", "Q2", "Q3"], "has_copy": [True, True, False], "embedded": [False] * 3, "edits": ["flip;blur", "", "text"]})
    rows = {r["edit"]: r for r in _edit_breakdown(candidates, {("Q1", "R1"), ("Q2", "R2")}, edits, "test")}
    assert set(rows) == {"flip", "blur", "none"} and rows["flip"]["queries"] == 1 and rows["flip"]["uAP"] == 1.0
    assert rows["flip"]["recall@1"] == 1.0 and rows["none"]["recall@1"] == 1.0
    wrong = pd.DataFrame({"query_id": ["Q1", "Q1"], "ref_id": ["R9", "R1"], "score": [3.0, 2.0]})
    assert _edit_breakdown(wrong, {("Q1", "R1")}, edits.iloc[:1], "test")[0]["recall@1"] == 0.0
    table = pd.DataFrame([
        {"method": m, "edit": "flip", "queries": 1, "uAP": u, "recall@1": r} for m, u, r in (("ensemble", 1.0, 1.0), ("pdq", 0.5, 0.0))
    ])
    metrics = {"split": "test", "methods": {"ensemble": {"uAP": 0.9, "query_descriptors": 2, "reference_descriptors": 3, "dim": 4, "positives_retrieved": 1, "positives": 1}}}
    text = _markdown(metrics, table)
    assert "| ensemble | 0.9000 |" in text and "| flip | 1.000 | 0.500 |" in text and "| flip | 1.000 | 0.000 |" in text
