"""Experiment tracking end to end on conf/test: a run's parameters, metrics, curves and artifacts; switched off; a broken store."""

import json
import logging
import sqlite3

import pytest

from tests.pipelines.conftest import run_pipeline

STORE = "data/09_tracking/test/mlflow.db"


def store(project):
    from mlflow.tracking import MlflowClient

    return MlflowClient(f"sqlite:///{project / STORE}")


def runs(project, name=None) -> list:
    client = store(project)
    experiment = client.get_experiment_by_name("test")  # conf/test's dataset: one experiment per dataset
    found = client.search_runs([experiment.experiment_id], order_by=["attributes.start_time DESC"]) if experiment else []
    return [r for r in found if name is None or r.info.run_name == name]


def test_the_default_pipeline_is_recorded_with_its_parameters_metrics_curves_and_artifacts(demo_run):
    run = runs(demo_run, "vsc_descriptor")[0]
    assert run.info.status == "FINISHED"  # (this copy of the project is no git checkout: tests/tracking/test_store.py has the commit tag)
    params = run.data.params
    assert params["search_index.kind"] == "exact" and params["inference.split"] == "test" and len(params) > 50
    metrics = run.data.metrics
    scored = json.loads(next((demo_run / "data/08_reporting/test/vsc_metrics.json").rglob("vsc_metrics.json")).read_text())
    for method in ("ensemble", "pdq", "untrained", "sscd"):  # the submission and every baseline
        assert metrics[f"vsc.{method}.uAP"] == pytest.approx(scored["methods"][method]["uAP"])
    assert {f"vsc.ablation.{row}.uAP" for row in ("ensemble_only", "scene_detection", "video_score", "both")} <= set(metrics)
    client = store(demo_run)
    for member in ("mobilenet_s0", "mobilenet_s1"):  # the trained members' curves, logged by the training worker
        history = client.get_metric_history(run.info.run_id, f"train.{member}.loss")
        assert sorted(m.step for m in history) == list(range(1, len(history) + 1)) and len(history) >= 1
        assert len(client.get_metric_history(run.info.run_id, f"train.{member}.lr")) == len(history)
    artifacts = {a.path for folder in ("vsc", "submission", "reports") for a in client.list_artifacts(run.info.run_id, folder)}
    assert {"vsc/vsc_metrics.json", "vsc/vsc_pr_curve.png", "vsc/vsc_report.md", "submission/query_descriptors.npz",
            "submission/reference_descriptors.npz", "reports/ingest_report.json"} <= artifacts


def test_switched_off_a_run_records_nothing(demo_run, monkeypatch):
    before = len(runs(demo_run))
    monkeypatch.setenv("VIDEO_SIMILARITY_TRACKING", "off")
    run_pipeline(demo_run, "evaluate")
    assert len(runs(demo_run)) == before


def test_a_store_that_cannot_be_opened_warns_in_one_line_and_the_run_succeeds(demo_run, tmp_path, monkeypatch, caplog):
    from video_similarity.tracking import hook, store as store_module

    reports = demo_run / "data/08_reporting/test/vsc_metrics.json"
    versions = len(list(reports.iterdir()))
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(b"this is no database" * 64)
    monkeypatch.setattr(hook, "resolve_store_uri", lambda uri, project: f"sqlite:///{corrupt}")
    with caplog.at_level(logging.WARNING):
        run_pipeline(demo_run, "evaluate")
    assert len(list(reports.iterdir())) == versions + 1  # the run went on and wrote its outputs
    warned = [r.getMessage() for r in caplog.records if "Experiment tracking is off" in r.getMessage()]
    assert len(warned) == 1 and "not a database" in warned[0] and "\n" not in warned[0]

    caplog.clear()
    monkeypatch.undo()
    before = len(runs(demo_run))
    holder = sqlite3.connect(demo_run / STORE, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another process holding the real store
    monkeypatch.setattr(store_module, "LOCK_WAIT_S", 0.5)
    try:
        with caplog.at_level(logging.WARNING):
            run_pipeline(demo_run, "evaluate")
    finally:
        holder.execute("ROLLBACK")
    warned = [r.getMessage() for r in caplog.records if "Experiment tracking is off" in r.getMessage()]
    assert len(warned) == 1 and "locked" in warned[0]
    assert len(runs(demo_run)) == before


def test_compare_runs_notebook_tables_two_runs_side_by_side(demo_run):
    from tests.pipelines.conftest import execute_notebook

    run_pipeline(demo_run, "evaluate")
    run_pipeline(demo_run, "evaluate")  # two finished runs of one pipeline: the notebook's default pair
    outputs = execute_notebook(demo_run, "compare_runs.ipynb")
    text = "\n".join(str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", "")) for o in outputs)
    assert "vsc.ensemble.uAP" in text and "difference" in text and "vsc/vsc_metrics.json" in text
    assert text.count("evaluate ") >= 2 and any("image/png" in o.get("data", {}) for o in outputs)


def test_a_store_failing_in_the_middle_of_a_run_stops_tracking_with_one_line_and_the_run_succeeds(demo_run, monkeypatch, caplog):
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    def refuse(*args, **kwargs):
        raise MlflowException("disk I/O error")

    monkeypatch.setattr(MlflowClient, "log_artifact", refuse)  # the first artifact of the run fails
    reports = demo_run / "data/08_reporting/test/vsc_metrics.json"
    versions = len(list(reports.iterdir()))
    with caplog.at_level(logging.WARNING):
        run_pipeline(demo_run, "evaluate")
    assert len(list(reports.iterdir())) == versions + 1
    warned = [r.getMessage() for r in caplog.records if "Experiment tracking is off" in r.getMessage()]
    assert len(warned) == 1 and "cannot record vsc_" in warned[0] and "disk I/O error" in warned[0]
    run = runs(demo_run, "evaluate")[0]
    assert run.info.status == "KILLED" and "vsc.ensemble.uAP" not in run.data.metrics  # nothing recorded after the failure
