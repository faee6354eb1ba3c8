"""vsc_matching through a real KedroSession on conf/test, after vsc_descriptor (the session's demo_run)."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.helpers import assert_plot
from tests.pipelines.conftest import run_pipeline
from video_similarity.descriptors import load_descriptors
from video_similarity.metrics.matching import main as matching_command
from video_similarity.vsc.matches import MATCH_COLUMNS, read_matches

DATA = Path("data")


@pytest.fixture(scope="module")
def matching_run(demo_run) -> Path:
    run_pipeline(demo_run, "vsc_matching")
    return demo_run


def test_matching_run_writes_valid_predictions_in_the_challenges_column_order(matching_run):
    base = matching_run / DATA
    index = pd.read_parquet(base / "02_intermediate/test/video_index.parquet")
    test = index[index["split"] == "test"]
    for name in ("tn", "network"):
        path = base / f"07_model_output/test/matching/{name}_matches.csv"
        assert path.read_text().splitlines()[0] == ",".join(MATCH_COLUMNS)
        matches = read_matches(path, query_ids=set(test["video_id"]), ref_ids=set(test["video_id"]))  # the validator's rules
        assert (matches["query_end"] > matches["query_start"]).all()


def test_matching_metrics_are_the_command_lines_figures(matching_run, capsys):
    base = matching_run / DATA
    metrics = json.loads(next((base / "08_reporting/test/matching_metrics.json").rglob("matching_metrics.json")).read_text())
    assert set(metrics["localizers"]) == {"tn", "network"}
    gt = pd.read_parquet(base / "02_intermediate/test/matching_ground_truth.parquet")
    gt_file = matching_run / "gt.csv"
    gt[gt["split"] == "test"].drop(columns="split").to_csv(gt_file, index=False)
    for name, scores in metrics["localizers"].items():
        assert 0.0 <= scores["segment_ap"] <= 1.0 and 0.0 <= scores["recall_of_copied_seconds"] <= 1.0
        matching_command(["--predictions", str(base / f"07_model_output/test/matching/{name}_matches.csv"), "--ground-truth", str(gt_file)])
        lines = capsys.readouterr().out.splitlines()
        assert lines == [f"segment AP: {scores['segment_ap']:.6f}", f"pairwise uAP: {scores['pairwise_uap']:.6f}"]
    report = (base / "08_reporting/test/matching_report.md").read_text()
    assert "| tn |" in report and "| network |" in report and "Recall of copied seconds" in report
    for figure in ("matching_pairs_tn.png", "matching_pairs_network.png"):
        assert_plot(base / "08_reporting/test" / figure)
    model = json.loads((base / "06_models/test/alignment_model.json").read_text())
    assert Path(model["torchscript"]).is_file() and model["split"] == "train" and model["pairs"] > 0


def test_the_matching_run_is_tracked_with_each_localizers_segment_ap_and_the_networks_curve(matching_run):
    from tests.pipelines.test_tracking import runs, store

    run = runs(matching_run, "vsc_matching")[0]
    metrics = json.loads(next((matching_run / DATA / "08_reporting/test/matching_metrics.json").rglob("matching_metrics.json")).read_text())
    for name, figures in metrics["localizers"].items():
        assert run.data.metrics[f"matching.{name}.segment_ap"] == pytest.approx(figures["segment_ap"])
        assert run.data.metrics[f"matching.{name}.pairwise_uap"] == pytest.approx(figures["pairwise_uap"])
    # the run that trained the alignment network has its curve (a later run reuses the stamped model and trains nothing)
    trained = [r for r in runs(matching_run, "vsc_matching") if "train.alignment_network.loss" in r.data.metrics]
    assert trained
    history = store(matching_run).get_metric_history(trained[-1].info.run_id, "train.alignment_network.loss")
    assert sorted(m.step for m in history) == list(range(1, len(history) + 1)) and len(history) >= 1


def test_matching_descriptors_cover_every_second_without_the_budgets_cut(matching_run):
    base = matching_run / DATA
    queries = load_descriptors(base / "05_model_input/test/matching/query_descriptors.npz")
    submitted = load_descriptors(base / "07_model_output/test/ensemble/query_descriptors.npz")
    assert set(submitted.video_ids) <= set(queries.video_ids)
    assert np.allclose(np.diff(queries.timestamps, axis=1), 1.0)  # one row per second at 1 fps


def test_two_fps_archives_and_localises_at_half_seconds(matching_run):
    run_pipeline(matching_run, "vsc_matching", runtime_params={"vsc_matching": {"fps": 2.0}})
    base = matching_run / DATA
    queries = load_descriptors(base / "05_model_input/test/matching/query_descriptors.npz")
    assert np.allclose(np.diff(queries.timestamps, axis=1), 0.5)
    assert (base / "04_feature/test/embeddings/fps_2").is_dir()
    matches = read_matches(base / "07_model_output/test/matching/tn_matches.csv")
    assert np.allclose(matches[["query_start", "query_end"]].to_numpy() * 2, np.round(matches[["query_start", "query_end"]].to_numpy() * 2))


def test_training_on_the_evaluated_split_is_refused(matching_run):
    from video_similarity.pipelines.vsc_matching.nodes import train_alignment_network

    with pytest.raises(ValueError, match="trained on what it is scored on"):
        train_alignment_network({}, {}, None, None, pd.DataFrame(), None, pd.DataFrame(), None, {"training": {"split": "test"}}, {}, {}, {})
