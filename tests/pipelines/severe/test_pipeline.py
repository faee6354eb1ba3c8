"""severe end to end on conf/test, after action_recognition: every encoder and setting, ranks, fine-tuning."""

import pandas as pd
import pytest

from tests.helpers import assert_plot
from tests.pipelines.conftest import run_pipeline

REPORTS = "data/08_reporting/test"


def test_severe_covers_every_encoder_and_setting_with_ranks(action_run):
    run_pipeline(action_run, "severe", runtime_params={"launch": {"nproc_per_node": 2}})  # sharded extraction, DDP fine-tuning
    results = pd.read_csv(action_run / REPORTS / "severe_results.csv")
    linear = results[results["method"] == "linear"]
    assert set(linear["encoder"]) == {"tvn1_trained", "tvn1_random", "r2plus1d_18_random"}
    assert set(linear["setting"]) == {"in_domain", "domain_shift", "fine_grained", "n=3", "n=6"}
    assert len(linear) == 3 * 5 and linear["top1"].between(0, 1).all()
    assert linear.groupby("setting")["rank"].min().eq(1).all()
    assert linear.set_index("setting")["train_videos"].loc["n=3"].tolist() == [3, 3, 3]  # ceil(3 / 3 classes) per class
    assert (linear[linear["setting"] == "fine_grained"]["classes"] == 2).all()
    finetuned = results[results["method"] == "finetune"]
    assert finetuned[["encoder", "setting"]].values.tolist() == [["tvn1_trained", "in_domain"]]
    report = (action_run / REPORTS / "severe_report.md").read_text()
    assert "rank per setting" in report and "tvn1_trained 0" in report  # the probe's test videos were not in TVN-1's training
    assert_plot(action_run / REPORTS / "severe_sample_sizes.png")


def test_severe_run_is_tracked_with_its_table_and_the_two_process_fine_tuning_curves(action_run):
    """(after the test above) the 2-process torchrun fine-tuning's rank 0 logs each epoch into the Kedro run's MLflow run."""
    from tests.pipelines.test_tracking import runs, store

    run = runs(action_run, "severe")[0]
    assert run.info.status == "FINISHED" and run.data.params["launch.nproc_per_node"] == "2"
    results = pd.read_csv(action_run / REPORTS / "severe_results.csv")
    for row in results.itertuples():
        key = f"severe.{row.encoder}.{row.setting.replace('=', '_')}.{row.method}.top1"
        assert run.data.metrics[key] == pytest.approx(row.top1)
    curve = "train.fine-tune_tvn1_trained_on_in_domain.loss"
    history = store(action_run).get_metric_history(run.info.run_id, curve)
    assert sorted(m.step for m in history) == list(range(1, len(history) + 1)) and len(history) >= 1
