"""The store's plumbing: a project-relative SQLite path, the creation lock, which errors are the store's."""

import sqlite3
import threading
import time

import pytest

from video_similarity.tracking.store import first_line, git_commit, is_tracking_error, resolve_store_uri, store_lock


def test_a_relative_sqlite_store_is_relative_to_the_project_and_its_folder_is_made(tmp_path):
    assert resolve_store_uri("sqlite:///data/09_tracking/mlflow.db", tmp_path) == f"sqlite:///{tmp_path}/data/09_tracking/mlflow.db"
    assert (tmp_path / "data" / "09_tracking").is_dir()
    absolute = tmp_path / "elsewhere" / "m.db"
    assert resolve_store_uri(f"sqlite:///{absolute}", tmp_path) == f"sqlite:///{absolute}"
    assert resolve_store_uri("http://tracking:5000", tmp_path) == "http://tracking:5000"
    assert resolve_store_uri(None, tmp_path) is None


def test_the_creation_lock_lets_one_holder_in_at_a_time(tmp_path):
    uri, order = f"sqlite:///{tmp_path}/m.db", []

    def second():
        with store_lock(uri):
            order.append("second")

    with store_lock(uri):
        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(0.3)
        order.append("first")
    thread.join(5)
    assert order == ["first", "second"]


def test_store_errors_are_told_from_the_data_being_saved(tmp_path):
    from kedro.io import DatasetError
    from mlflow.exceptions import MlflowException

    try:
        try:
            sqlite3.connect(tmp_path).execute("select 1")  # a folder is no database
        except sqlite3.Error as error:
            raise MlflowException(str(error)) from error
    except MlflowException as error:
        store_error = error
    with pytest.raises(DatasetError) as wrapped:
        try:
            raise store_error
        except MlflowException as error:
            raise DatasetError("Failed while saving data to dataset vsc_tracked_metrics") from error
    assert is_tracking_error(wrapped.value)
    assert first_line(wrapped.value).startswith("OperationalError: unable to open database file")
    local = DatasetError("Failed while saving data")
    local.__cause__ = PermissionError("data/08_reporting/demo/vsc_report.md")
    assert not is_tracking_error(local)


def test_the_git_commit_is_recorded_when_the_project_is_a_checkout(tmp_path):
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    tags = git_commit(repo)
    assert len(tags["git_commit"]) == 40 and tags["mlflow.source.git.commit"] == tags["git_commit"]
    assert tags["git_dirty"] in ("true", "false")
    assert git_commit(tmp_path) == {}


def test_a_corrupt_or_locked_store_is_refused_at_once_not_after_mlflows_retries(tmp_path, monkeypatch):
    from video_similarity.tracking import store

    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(b"not a database" * 100)
    with pytest.raises(sqlite3.DatabaseError, match="not a database"):
        store.check_store(f"sqlite:///{corrupt}")
    with pytest.raises(sqlite3.OperationalError, match="unable to open"):
        store.check_store(f"sqlite:///{tmp_path}")  # a folder
    good = tmp_path / "good.db"
    store.check_store(f"sqlite:///{good}")  # a new store is fine (MLflow creates its tables)
    holder = sqlite3.connect(good, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another process writing and never letting go
    monkeypatch.setattr(store, "LOCK_WAIT_S", 0.3)
    started = time.perf_counter()
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        store.check_store(f"sqlite:///{good}")
    assert time.perf_counter() - started < 5
    holder.execute("ROLLBACK")
    store.check_store(f"sqlite:///{good}")


CONCURRENT_RUN = """
import sys
from mlflow.tracking import MlflowClient
from video_similarity.tracking.store import check_store, store_lock

uri, name = sys.argv[1], sys.argv[2]
with store_lock(uri):
    check_store(uri)
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("shared") or client.get_experiment(client.create_experiment("shared"))
run = client.create_run(experiment.experiment_id, run_name=name).info.run_id
for step in range(20):
    client.log_metric(run, "loss", 1.0 / (step + 1), step=step)
client.log_param(run, "who", name)
client.set_terminated(run)
"""


def test_two_runs_starting_together_on_a_fresh_store_both_record(tmp_path):
    import subprocess
    import sys

    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path}/fresh.db"
    script = tmp_path / "run.py"
    script.write_text(CONCURRENT_RUN)
    runs = [subprocess.Popen([sys.executable, str(script), uri, name], stderr=subprocess.PIPE, text=True) for name in ("a", "b")]
    for process in runs:
        assert process.wait(120) == 0, process.stderr.read()[-2000:]
    client = MlflowClient(uri)
    recorded = client.search_runs([client.get_experiment_by_name("shared").experiment_id])
    assert sorted(r.data.params["who"] for r in recorded) == ["a", "b"]
    assert all(len(client.get_metric_history(r.info.run_id, "loss")) == 20 and r.info.status == "FINISHED" for r in recorded)
