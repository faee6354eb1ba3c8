"""ingest + preprocess through a real KedroSession on conf/test, and the project's tooling."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.helpers import assert_plot
from tests.pipelines.conftest import execute_notebook, run_pipeline
from video_similarity.frames.archive import FrameArchive
from video_similarity.ingest.problems import DatasetUnusableError

DATA = Path("data")


def test_registry_lists_only_working_pipelines():
    from video_similarity.pipeline_registry import register_pipelines

    pipelines = register_pipelines()
    stages = ["ingest", "preprocess", "train_ensemble", "train_vid_score", "tune", "pca", "infer_ref", "infer_query", "baselines", "evaluate"]
    assert set(pipelines) == set(stages) | {"vsc_descriptor", "__default__", "vsc_matching", "retrieval", "fivr_retrieval",
                                                  "action_recognition", "severe"}
    assert pipelines["fivr_retrieval"] is pipelines["retrieval"]  # the earlier name still runs it
    assert pipelines["__default__"] is pipelines["vsc_descriptor"]
    assert {n.name for n in pipelines["vsc_descriptor"].nodes} == {n.name for s in stages for n in pipelines[s].nodes}


def test_demo_run_writes_every_catalog_artifact(demo_run):
    base = demo_run / DATA
    index = pd.read_parquet(base / "02_intermediate/test/video_index.parquet")
    assert len(index) == 16 and set(index["split"]) == {"train", "test"}
    gt = pd.read_parquet(base / "02_intermediate/test/matching_ground_truth.parquet")
    pairs = pd.read_parquet(base / "02_intermediate/test/descriptor_ground_truth.parquet")
    edits = pd.read_parquet(base / "02_intermediate/test/query_edits.parquet")
    assert len(gt) >= 1 and len(pairs) == len(gt[["query_id", "ref_id"]].drop_duplicates())
    assert len(edits) == (index["role"] == "query").sum()
    ingest = json.loads((base / "08_reporting/test/ingest_report.json").read_text())
    assert ingest["n_skipped"] == 0 and ingest["splits"] == ["train", "test"]
    report = json.loads((base / "08_reporting/test/preprocess_report.json").read_text())
    assert report["counts"] == {"ok": 16}
    manifest = pd.read_parquet(base / "02_intermediate/test/frame_archives.parquet")
    durations = index.set_index("video_id")["duration"]
    for row in manifest.itertuples():
        assert row.status == "ok"
        with FrameArchive(row.archive) as archive:
            assert len(archive) == row.n_frames == math.ceil(durations[row.video_id] - 1e-9)
            assert min(archive.frame(0).shape[:2]) == 64


def test_demo_run_produces_a_valid_scored_submission(demo_run):
    from video_similarity.descriptors import load_descriptors, validate_submission

    base = demo_run / DATA
    index = pd.read_parquet(base / "02_intermediate/test/video_index.parquet").set_index("video_id")
    for method in ("ensemble", "pdq", "untrained", "sscd"):
        query = load_descriptors(base / f"07_model_output/test/{method}/query_descriptors.npz")
        reference = load_descriptors(base / f"07_model_output/test/{method}/reference_descriptors.npz")
        assert set(query.video_ids) <= set(index.index[(index["split"] == "test") & (index["role"] == "query")])
        validate_submission(query, reference, index.loc[sorted(set(query.video_ids)), "duration"].to_dict(), index.loc[sorted(set(reference.video_ids)), "duration"].to_dict())
    metrics = json.loads(next((base / "08_reporting/test/vsc_metrics.json").rglob("vsc_metrics.json")).read_text())
    assert list(metrics["methods"]) == ["ensemble", "pdq", "untrained", "sscd"]
    for scores in metrics["methods"].values():
        assert 0 <= scores["uAP"] <= 1 and scores["positives"] >= 1
    assert_plot(next((base / "08_reporting/test/vsc_pr_curve.png").rglob("vsc_pr_curve.png")))
    report = (base / "08_reporting/test/vsc_report.md").read_text()
    assert "| ensemble |" in report and "| pdq |" in report and "| sscd |" in report and "uAP by edit" in report
    manifest = json.loads((base / "06_models/test/ensemble_members.json").read_text())
    assert len(manifest["models"]) == 3 and set(manifest["members"]) == set(manifest["models"])
    settings = json.loads((base / "06_models/test/descriptor_settings.json").read_text())
    assert settings["source"] in ("tuned", "fallback") and set(settings["weights"]) <= set(manifest["members"])
    assert metrics["settings"] == settings and settings["source"] in report
    trained = {name: entry for name, entry in manifest["models"].items() if not entry.get("frozen")}
    assert sorted(trained) == ["mobilenet_s0", "mobilenet_s1"]
    for name, entry in trained.items():
        assert Path(entry["torchscript"]).is_file()
        assert manifest["members"][name]["builder"] == "torchscript"  # inference reads the export through the registry
    # the frozen member is its registry entry, used as it is: nothing was trained for it
    assert manifest["members"]["sscd_distilled"]["builder"] == "sscd_distilled"
    assert not (base / "06_models/test/descriptor_models/sscd_distilled").exists()
    # the baselines ran the ensemble's stages under their namespaces, not code of their own
    for method in ("pdq", "untrained", "sscd"):
        assert (base / f"06_models/test/{method}/pca.npz").is_file() and (base / f"05_model_input/test/{method}/noise_bank.npz").is_file()
        baseline = json.loads((base / f"06_models/test/{method}/descriptor_settings.json").read_text())
        assert baseline["source"] == "baseline" and baseline["weights"] == {method: 1.0}


def test_demo_run_trains_the_video_score_and_reports_the_boosters_ablation(demo_run):
    base = demo_run / DATA
    model = json.loads((base / "06_models/test/vid_score_model.json").read_text())
    assert Path(model["torchscript"]).is_file() and model["encoder"]["name"] == "sscd_distilled"  # the first frozen member
    assert model["validation"]["videos"] >= 1 and 0 <= model["validation"]["ap"] <= 1
    scores = pd.read_csv(base / "07_model_output/test/query_video_scores.csv")
    index = pd.read_parquet(base / "02_intermediate/test/video_index.parquet")
    assert set(scores["video_id"]) == set(index.loc[(index["split"] == "test") & (index["role"] == "query"), "video_id"])
    settings = json.loads((base / "06_models/test/descriptor_settings.json").read_text())
    threshold = settings["video_score_threshold"]
    assert scores["score"].nunique() > 1  # the model tells queries apart
    # suppressed exactly where the score is below the tuned threshold (none without one)
    assert scores["suppressed"].tolist() == (scores["score"].lt(threshold).tolist() if threshold is not None else [False] * len(scores))
    parts = json.loads((base / "05_model_input/test/query_scene_parts.json").read_text())
    assert parts["enabled"] and parts["queries"] == 5
    metrics = json.loads(next((base / "08_reporting/test/vsc_metrics.json").rglob("vsc_metrics.json")).read_text())
    ablation = metrics["ablation"]
    assert list(ablation) == ["ensemble only", "+ scene detection", "+ video score", "both"]
    assert ablation["both"]["uAP"] == metrics["methods"]["ensemble"]["uAP"]  # "both" is the submission itself
    suppressed = int(scores["suppressed"].sum())
    assert ablation["+ video score"]["suppressed"] == ablation["both"]["suppressed"] == suppressed
    assert ablation["ensemble only"]["suppressed"] == 0
    assert "Query boosters" in (base / "08_reporting/test/vsc_report.md").read_text()


def test_demo_figures_are_pinned_and_the_ensemble_beats_the_untrained_backbone(demo_run):
    """conf/test's demo: PDQ is integer arithmetic on decoded frames, so its uAP repeats to the digit on any machine; the
    untrained backbone's goes through random init and float kernels (it moved by 0.1 on another CPU), so it is only ordered."""
    metrics = json.loads(next((demo_run / DATA / "08_reporting/test/vsc_metrics.json").rglob("vsc_metrics.json")).read_text())
    uap = {method: scores["uAP"] for method, scores in metrics["methods"].items()}
    print(uap)
    assert uap["pdq"] == pytest.approx(0.966667, abs=1e-6)  # the corpus of CORPUS_FORMAT 4 (two copies, long filler)
    assert uap["ensemble"] > uap["untrained"]


def test_second_run_reuses_corpus_and_archives(demo_run):
    zips = sorted((demo_run / DATA / "02_intermediate/test/frame_archives").glob("*.zip"))
    before = [p.stat().st_mtime_ns for p in zips]
    corpus = sorted((demo_run / DATA / "01_raw/test_demo").rglob("*.mp4"))
    corpus_before = [p.stat().st_mtime_ns for p in corpus]
    run_pipeline(demo_run, "ingest")
    run_pipeline(demo_run, "preprocess")
    assert [p.stat().st_mtime_ns for p in zips] == before
    assert [p.stat().st_mtime_ns for p in corpus] == corpus_before
    report = json.loads((demo_run / DATA / "08_reporting/test/preprocess_report.json").read_text())
    assert report["counts"] == {"cached": 16} and report["decoded_videos"] == 0


def test_a_frozen_members_features_are_reused_by_a_later_run(demo_run):
    items = sorted((demo_run / DATA / "04_feature/test/embeddings/sscd_distilled").glob("*.npz"))
    assert len(items) >= 6  # the training split's references (PCA) and the evaluated split's videos
    before = [p.stat().st_mtime_ns for p in items]
    run_pipeline(demo_run, "pca")
    assert [p.stat().st_mtime_ns for p in items] == before


def test_vsc_env_ingests_any_directory_in_the_official_layout(demo_run):
    from video_similarity.config import dataset_name

    root = demo_run / DATA / "01_raw/test_demo"
    run_pipeline(demo_run, "ingest", env="vsc", runtime_params={"vsc_root": str(root)})
    dataset = dataset_name("vsc", root)  # each root has its own data folder
    assert dataset.startswith("vsc-test_demo-") and dataset != dataset_name("vsc", demo_run / "nowhere")
    index = pd.read_parquet(demo_run / DATA / f"02_intermediate/{dataset}/video_index.parquet")
    assert len(index) == 16
    report_path = demo_run / DATA / f"08_reporting/{dataset_name('vsc', demo_run / 'nowhere')}/ingest_report.json"
    report_path.parent.mkdir(parents=True, exist_ok=True)
    report_path.write_text('{"stale": "a previous run of this root"}')
    with pytest.raises(DatasetUnusableError, match="does not exist"):
        run_pipeline(demo_run, "ingest", env="vsc", runtime_params={"vsc_root": str(demo_run / "nowhere")})
    # the failed ingest replaced the previous run's report with its own (hooks.SaveReportOnFailure)
    report = json.loads(report_path.read_text())
    assert "does not exist" in report["error"] and report["root"].endswith("nowhere")


def _kedro(project, *args, timeout=600):
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "1"}
    kedro = Path(sys.executable).parent / "kedro"
    return subprocess.run([str(kedro), *args], cwd=project, env=env, capture_output=True, text=True, timeout=timeout)


def test_kedro_viz_build_succeeds(demo_run):
    result = _kedro(demo_run, "viz", "build")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "circular" not in result.stdout + result.stderr  # the catalog's layers are ordered, so kedro-viz shows them
    assert (demo_run / "build" / "index.html").is_file()
    api = demo_run / "build" / "api" / "main"
    graph = json.loads(api.read_text())
    names = {n["name"] for n in graph["nodes"]}
    assert {"video_index", "frame_archives", "ingest_report", "preprocess_report", "descriptor_models", "ensemble_members", "query_descriptors", "pdq.query_descriptors", "vsc_metrics"} <= names
    layers = {n["name"]: n.get("layer") for n in graph["nodes"] if n["type"] == "data"}
    assert layers["video_index"] == "intermediate" and layers["ingest_report"] == "reporting"


def test_notebook_runs_against_the_catalog(demo_run):
    outputs = execute_notebook(demo_run, "explore_demo.ipynb")
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs)
    assert any("| ensemble |" in o.get("data", {}).get("text/markdown", "") for o in outputs)


def test_a_stage_run_before_its_inputs_exist_is_one_line_with_the_next_step(tmp_path):
    """The project's `kedro run` (video_similarity.cli): a user's mistake is `Error: ...` and exit 2, no traceback."""
    import shutil

    from tests.pipelines.conftest import REPO

    shutil.copy(REPO / "pyproject.toml", tmp_path)
    shutil.copytree(REPO / "conf", tmp_path / "conf", ignore=shutil.ignore_patterns("local"))
    (tmp_path / "conf" / "local").mkdir()
    (tmp_path / "src").mkdir()
    result = _kedro(tmp_path, "run", "--env=test", "--pipeline=preprocess")
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.strip().splitlines()[-1] == (
        "Error: video_index does not exist yet: run `kedro run --pipeline=ingest` first (with the same --env and --params)")
    assert "Traceback" not in result.stdout + result.stderr
    assert "Warning" not in result.stdout + result.stderr  # a plain run's first screen: no deprecation notices, no noise
