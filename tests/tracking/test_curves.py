"""Training curves: rank 0's epochs as metric histories of the run, a resumed training continuing its history."""

import logging

import pytest
import torch

from tests.training.test_loop import ALONE, Interrupted, RecordingSGD, ScoredToyTask, run
from video_similarity.tracking.curves import TrainingCurves
from video_similarity.training.loop import fit, warmup_linear


@pytest.fixture
def store(tmp_path):
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    client = MlflowClient(uri)
    experiment = client.create_experiment("curves", artifact_location=str(tmp_path / "artifacts"))
    return uri, client, lambda: client.create_run(experiment).info.run_id


def steps(client, run_id, key):
    return [(m.step, m.value) for m in sorted(client.get_metric_history(run_id, key), key=lambda m: m.step)]


def test_a_history_is_logged_once_per_epoch_even_when_a_restarted_job_records_it_again(store):
    uri, client, new_run = store
    run_id = new_run()
    history = [{"epoch": 1, "loss": 0.9, "lr": 0.1, "seconds": 1.0}, {"epoch": 2, "loss": 0.5, "lr": 0.05, "eval_accuracy": 0.4}]
    curves = TrainingCurves("mobilenet s0", uri, run_id)
    curves.record(history[:1])
    curves.record(history)
    TrainingCurves("mobilenet s0", uri, run_id).record(history)  # a torchrun restart of the same job in the same run
    assert steps(client, run_id, "train.mobilenet_s0.loss") == [(1, 0.9), (2, 0.5)]
    assert steps(client, run_id, "train.mobilenet_s0.lr") == [(1, 0.1), (2, 0.05)]
    assert steps(client, run_id, "train.mobilenet_s0.eval_accuracy") == [(2, 0.4)]


def test_fit_logs_each_epoch_and_a_resumed_training_continues_the_history_in_the_new_run(store, tmp_path, monkeypatch):
    uri, client, new_run = store
    first_run, second_run = new_run(), new_run()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_RUN_ID", first_run)
    with pytest.raises(Interrupted):
        run(tmp_path / "cut.ckpt", [], ScoredToyTask(die_at=2))  # two epochs done, then killed
    assert [s for s, _ in steps(client, first_run, "train.toy.loss")] == [1, 2]
    monkeypatch.setenv("MLFLOW_RUN_ID", second_run)  # the next kedro run resumes the training
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    history = fit(model, RecordingSGD(model.parameters(), []), ScoredToyTask(), epochs=4, checkpoint=tmp_path / "cut.ckpt", kind="toy",
                  config={"epochs": 4}, context=ALONE, schedule=warmup_linear(0.25), track_as="toy model")
    logged = steps(client, second_run, "train.toy_model.loss")
    assert [s for s, _ in logged] == [1, 2, 3, 4]  # the checkpoint's epochs first, then the new ones: not restarted at 1
    assert [v for _, v in logged] == pytest.approx([row["loss"] for row in history])
    assert [s for s, _ in steps(client, second_run, "train.toy_model.eval_metric")] == [1, 2, 3, 4]
    lrs = [v for _, v in steps(client, second_run, "train.toy_model.lr")]
    assert lrs[-1] < lrs[1]  # the schedule's decay is visible in the curve


def test_without_a_run_in_the_environment_nothing_is_logged(monkeypatch):
    monkeypatch.delenv("MLFLOW_RUN_ID", raising=False)
    assert TrainingCurves.from_environment("m") is None
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///x.db")
    monkeypatch.setenv("MLFLOW_RUN_ID", "abc")
    monkeypatch.setenv("VIDEO_SIMILARITY_TRACKING", "off")
    assert TrainingCurves.from_environment("m") is None


def test_a_store_that_cannot_be_opened_warns_once_and_training_goes_on(tmp_path, caplog):
    curves = TrainingCurves("m", f"sqlite:///{tmp_path}", "no-such-run")  # a folder, not a database
    with caplog.at_level(logging.WARNING, logger="video_similarity.tracking.curves"):
        curves.record([{"epoch": 1, "loss": 1.0}])
        curves.record([{"epoch": 1, "loss": 1.0}, {"epoch": 2, "loss": 0.5}])
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "train.m" in warnings[0].getMessage() and "\n" not in warnings[0].getMessage()
