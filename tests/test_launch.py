"""The torchrun launcher: command lines, config validation, and a failing worker's traceback."""

import os
import signal
import sys
import threading
import time

import pytest

from video_similarity.launch import LaunchConfig, LaunchError, job_command, launch, torchrun_command


def test_single_node_is_standalone():
    command = torchrun_command("pkg.worker", "/tmp/job.json", LaunchConfig(nproc_per_node=2))
    assert command[:3] == [sys.executable, "-m", "torch.distributed.run"]
    assert "--standalone" in command and "--nproc-per-node=2" in command and "--max-restarts=0" in command
    assert command[-4:] == ["-m", "pkg.worker", "--spec", "/tmp/job.json"]


def test_multi_node_uses_the_rendezvous_endpoint():
    config = LaunchConfig(nproc_per_node=8, nnodes=2, rdzv_endpoint="node0:29400", max_restarts=3)
    command = torchrun_command("pkg.worker", "job.json", config)
    assert "--standalone" not in command
    assert {"--nnodes=2", "--rdzv-backend=c10d", "--rdzv-endpoint=node0:29400", "--max-restarts=3"} <= set(command)


def test_config_is_validated():
    assert LaunchConfig.from_params({"nproc_per_node": 2}).nproc_per_node == 2
    with pytest.raises(ValueError, match=r"launch: unknown key\(s\) \['gpus'\]"):
        LaunchConfig.from_params({"gpus": 2})
    with pytest.raises(ValueError, match="rdzv_endpoint"):
        LaunchConfig.from_params({"nnodes": 2})
    with pytest.raises(ValueError, match=">= 1"):
        LaunchConfig.from_params({"nproc_per_node": 0})


def test_a_failing_worker_fails_the_launch_with_its_traceback(tmp_path):
    with pytest.raises(LaunchError) as err:
        launch("tests.workers.failing_worker", {"message": "disk on fire"}, LaunchConfig(nproc_per_node=2), workdir=tmp_path)
    text = str(err.value)
    assert "exit code" in text and "disk on fire" in text and "RuntimeError" in text


def test_one_process_on_one_host_runs_the_worker_itself_and_more_go_through_torchrun():
    assert job_command("pkg.worker", "job.json", LaunchConfig()) == [sys.executable, "-m", "pkg.worker", "--spec", "job.json"]
    assert "torch.distributed.run" in job_command("pkg.worker", "job.json", LaunchConfig(nproc_per_node=2))
    assert "torch.distributed.run" in job_command("pkg.worker", "job.json", LaunchConfig(max_restarts=2))  # restarts need the agent


def test_a_single_process_worker_fails_the_launch_with_its_traceback(tmp_path):
    with pytest.raises(LaunchError) as err:
        launch("tests.workers.failing_worker", {"message": "disk on fire", "rank": 0}, LaunchConfig(), workdir=tmp_path)
    text = str(err.value)
    assert "exit code" in text and "disk on fire" in text and "RuntimeError" in text


def test_a_caller_interrupted_alone_stops_its_job_and_every_worker(tmp_path):
    """A signal to the caller only (not Ctrl-C in a terminal, which reaches torchrun as well) still stops the job's processes."""
    pids = tmp_path / "pids"
    pids.mkdir()

    def interrupt_once_started():
        deadline = time.monotonic() + 120
        while len(list(pids.iterdir())) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt_once_started, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        launch("tests.workers.sleeping_worker", {"pids": str(pids)}, LaunchConfig(nproc_per_node=2), workdir=tmp_path)
    workers = [int(p.read_text()) for p in pids.iterdir()]
    assert len(workers) == 2
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in workers)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
