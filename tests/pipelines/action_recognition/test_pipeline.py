"""action_recognition end to end on conf/test (a 3-class, 4-group action demo): bad files, protocols, reuse."""

import json

import pandas as pd

from tests.helpers import assert_plot
from tests.pipelines.conftest import run_pipeline

REPORTS = "data/08_reporting/test"


def test_bad_files_are_reported_and_skipped(action_run):
    report = json.loads((action_run / REPORTS / "action_ingest_report.json").read_text())
    assert report["skipped_by_kind"] == {"unparsed_name": 1, "decode_failed": 2}
    assert report["usable"] == 3 * 4 * 2 and report["groups"] == 4 and report["classes"] == 3
    clips = pd.read_parquet(action_run / "data/02_intermediate/test/action_clips.parquet")
    usable = clips[clips["status"] == "good"]
    assert sorted(usable["label"].unique()) == [0, 1, 2] and (clips.loc[clips["status"] == "failed", "label"] == -1).all()


def test_every_protocol_is_trained_evaluated_and_named(action_run):
    metrics = json.loads((action_run / REPORTS / "action_metrics.json").read_text())
    assert set(metrics["protocols"]) == {"group", "random", "logo"} and metrics["num_classes"] == 3
    assert metrics["protocols"]["logo"]["folds"] == 4 and metrics["protocols"]["logo"]["videos"] == 24
    assert metrics["protocols"]["random"]["leaks_groups"] and not metrics["protocols"]["group"]["leaks_groups"]
    for figures in metrics["protocols"].values():
        assert 0 <= figures["video_accuracy"] <= 1 and 0 <= figures["clip_accuracy"] <= 1
    assert metrics["cost"]["parameters_body"] == 25_720_110 and metrics["cost"]["macs"] > 0 and metrics["cost"]["cpu_ms_per_clip"] > 0
    report = (action_run / REPORTS / "action_report.md").read_text()
    assert "leave-one-group-out" in report and "leaks groups" in report and "76.90 %" in report and "37 ms" in report
    for plot in ("action_confusion_matrix.png", "action_training_curves.png"):
        assert_plot(action_run / REPORTS / plot)
    history = json.loads((action_run / "data/06_models/test/action_models/group/history.json").read_text())
    assert [row["epoch"] for row in history] == [1, 2] and all("eval_clip_accuracy" in row for row in history)


def test_a_second_run_reuses_the_trained_folds(action_run):
    checkpoint = action_run / "data/06_models/test/action_models/group/model.ckpt"
    made = checkpoint.stat().st_mtime_ns
    run_pipeline(action_run, "action_recognition", from_nodes=["train_action_models"])
    assert checkpoint.stat().st_mtime_ns == made


def test_the_action_run_is_tracked_with_tvn1_top1_per_protocol(action_run):
    from tests.pipelines.test_tracking import runs

    run = runs(action_run, "action_recognition")[0]
    metrics = json.loads((action_run / REPORTS / "action_metrics.json").read_text())
    for protocol, figures in metrics["protocols"].items():
        for name in ("clip_accuracy", "video_accuracy"):
            assert run.data.metrics[f"action.{protocol}.{name}"] == figures[name]

