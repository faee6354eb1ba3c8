"""retrieval end to end on conf/test: every encoder x similarity scored, CLIs agree, frame beats video level."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.pipelines.conftest import REPO, execute_notebook, latest_results

DATA = Path("data")
METHODS = {"video_level", "chamfer", "symmetric_chamfer", "topk_chamfer"}
RERANKED = {"chamfer re-ranked", "symmetric_chamfer re-ranked", "topk_chamfer re-ranked"}


def configured_encoders() -> set[str]:
    base = yaml.safe_load((REPO / "conf/base/parameters_retrieval.yml").read_text())["retrieval"]["encoders"]
    test = yaml.safe_load((REPO / "conf/test/parameters_retrieval.yml").read_text())["retrieval"]["encoders"]
    merged = {**base, **test}
    return {name for name, entry in merged.items() if entry is not None}


def test_every_encoder_and_similarity_is_scored(retrieval_run):
    results = latest_results(retrieval_run)
    expected = configured_encoders() | {"video_transformer"}
    assert {(r["encoder"], r["similarity"]) for r in results["rows"]} == {(e, m) for e in expected for m in METHODS | RERANKED}
    for row in results["rows"]:
        assert all(0.0 <= row[t] <= 1.0 for t in ("DSVR", "CSVR", "ISVR")), row
        assert row["n_queries"] == 3
    assert results["missing_videos"] == 0 and results["failed_videos"] == []
    assert results["all_db"] == "all" and any(a["method"] == "ViSiL_v" for a in results["anchors"])
    table = (retrieval_run / DATA / "08_reporting/test/retrieval_results.md").read_text()
    assert table.count("\n| ") >= len(results["rows"]) and "Frame-level against video-level" in table
    index = pd.read_parquet(retrieval_run / DATA / "02_intermediate/test/retrieval/video_index.parquet")
    assert set(index["split"]) == {"eval", "train"} and (index["role"] == "query").sum() == 3


def test_the_retrieval_run_is_tracked_with_every_encoder_and_similaritys_maps(retrieval_run):
    from tests.pipelines.test_tracking import runs
    from video_similarity.tracking.metrics import metric_key

    run = runs(retrieval_run, "retrieval")[0]
    rows = latest_results(retrieval_run)["rows"]
    for row in rows:
        for task in ("DSVR", "CSVR", "ISVR"):
            assert run.data.metrics[f"retrieval.{row['encoder']}.{metric_key(row['similarity'])}.{task}"] == pytest.approx(row[task])
    assert sum(key.startswith("retrieval.") for key in run.data.metrics) == 3 * len(rows)


def test_reranking_the_small_demo_whole_scores_as_the_exhaustive_similarity(retrieval_run):
    """The demo's database is below rerank_top_n, so every video is re-ranked: the float16 shards cost at most their precision."""
    rows = {(r["encoder"], r["similarity"]): r for r in latest_results(retrieval_run)["rows"]}
    for (encoder, similarity), row in rows.items():
        if similarity.endswith(" re-ranked"):
            exhaustive = rows[(encoder, similarity.removesuffix(" re-ranked"))]
            for task in ("DSVR", "CSVR", "ISVR"):
                assert abs(row[task] - exhaustive[task]) <= 0.005, (encoder, similarity, task)


def test_the_tradeoff_curve_ends_at_the_exhaustive_figures(retrieval_run):
    reporting = retrieval_run / DATA / "08_reporting/test"
    curve = json.loads(sorted((reporting / "retrieval_rerank_curve.json").glob("*/retrieval_rerank_curve.json"))[-1].read_text())
    assert sorted((reporting / "retrieval_rerank_curve.png").glob("*/retrieval_rerank_curve.png"))
    rows = {(r["encoder"], r["similarity"]): r for r in latest_results(retrieval_run)["rows"]}
    for encoder, entry in curve["curves"].items():
        fractions = [p["fraction"] for p in entry["points"]]
        assert fractions == sorted(fractions) and fractions[-1] == 1.0
        whole = entry["points"][-1]
        assert abs(whole["DSVR"] - rows[(encoder, entry["method"])]["DSVR"]) <= 0.005
        assert whole["videos"] == curve["database"]  # the test demo: no video without features


def test_frame_level_beats_video_level_on_dsvr(retrieval_run):
    gaps = latest_results(retrieval_run)["frame_vs_video"]
    frame_encoders = [e for e in ("resnet50_avgpool", "resnet50_rmac") if e in gaps]
    assert frame_encoders
    for encoder in frame_encoders:
        gap = gaps[encoder]
        print(f"{encoder}: {gap['frame_method']} {gap['frame_level']:.4f} vs video-level {gap['video_level']:.4f} ({gap['gain']:+.4f})")
        assert gap["gain"] > 0


@pytest.mark.parametrize("key", ["resnet50_avgpool__chamfer", "pdq__video_level"])
def test_similarity_files_score_the_same_through_the_cli(retrieval_run, key):
    root = retrieval_run / DATA
    similarities = root / f"07_model_output/test/retrieval/similarities/{key}.json"
    raw = root / "01_raw/test_fivr"
    out = subprocess.run(
        [sys.executable, "-m", "video_similarity.metrics.fivr", "--annotation", str(raw / "annotation.json"),
         "--queries", str(raw / "queries.txt"), "--database", str(raw / "database.txt"), "--similarities", str(similarities)],
        capture_output=True, text=True, check=True,
    )
    printed = json.loads(out.stdout)
    encoder, method = key.split("__")
    row = next(r for r in latest_results(retrieval_run)["rows"] if r["encoder"] == encoder and r["similarity"] == method)
    assert {t: printed[t] for t in ("DSVR", "CSVR", "ISVR")} == {t: row[t] for t in ("DSVR", "CSVR", "ISVR")}


def test_video_encoder_checkpoint_rebuilds_from_the_catalog(retrieval_run):
    from video_similarity.models.video_transformer import load_video_transformer

    manifest = json.loads((retrieval_run / DATA / "06_models/test/retrieval/video_encoder.json").read_text())
    assert manifest["enabled"] and manifest["n_pairs"] > 0
    model = load_video_transformer(retrieval_run / manifest["checkpoint"])
    assert model.config["input_dim"] == 2048


def test_retrieval_notebook_runs_against_the_catalog(retrieval_run):
    outputs = execute_notebook(retrieval_run, "explore_retrieval.ipynb")
    assert not [o for o in outputs if o.output_type == "error"]
    assert sum("image/png" in o.get("data", {}) for o in outputs) == 2  # the mAP bars and the frames
    printed = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "__chamfer query " in printed
    assert any("Frame-level against video-level" in o.get("data", {}).get("text/markdown", "") for o in outputs)
