"""The one place that starts torchrun.

GPU-heavy nodes do not train or extract in the Kedro process: they write a job
spec (JSON), run ``python -m torch.distributed.run`` as a subprocess with the
``launch`` parameters, and return file paths that the catalog then owns. The
same call runs 1-2 gloo processes on a laptop CPU and 8 nccl processes per
host on A100s; multi-host is torchrun's own rendezvous.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections import deque
from pathlib import Path

from video_similarity.params import LaunchConfig
from video_similarity.tracking import worker_environment

log = logging.getLogger(__name__)


class LaunchError(RuntimeError):
    """A torchrun job failed; the message carries the end of its output (the worker traceback)."""


def torchrun_command(module: str, spec_path: str | Path, config: LaunchConfig) -> list[str]:
    """The torchrun command line for ``python -m module --spec spec_path``."""
    command = [sys.executable, "-m", "torch.distributed.run", f"--nproc-per-node={config.nproc_per_node}", f"--max-restarts={config.max_restarts}"]
    if config.nnodes == 1 and not config.rdzv_endpoint:
        command += ["--standalone", "--nnodes=1"]
    else:
        command += [f"--nnodes={config.nnodes}", "--rdzv-backend=c10d", f"--rdzv-endpoint={config.rdzv_endpoint}", f"--rdzv-id={config.rdzv_id}"]
    return command + ["-m", module, "--spec", str(spec_path)]


def job_command(module: str, spec_path: str | Path, config: LaunchConfig) -> list[str]:
    """The command that runs the job: torchrun, or for one process on one host without restarts the
    worker itself (it is then rank 0 of a world of 1, as under torchrun; the elastic agent would only
    add its start-up, seconds per job)."""
    if config.nproc_per_node == 1 and config.nnodes == 1 and not config.rdzv_endpoint and config.max_restarts == 0:
        return [sys.executable, "-m", module, "--spec", str(spec_path)]
    return torchrun_command(module, spec_path, config)


def _environment(config: LaunchConfig) -> dict[str, str]:
    env = dict(os.environ)
    if config.nproc_per_node == 1 and config.nnodes == 1:
        env.update({"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "1", "LOCAL_WORLD_SIZE": "1"})
    threads = config.threads_per_process or max(1, (os.cpu_count() or 1) // config.nproc_per_node)
    env.setdefault("OMP_NUM_THREADS", str(threads))
    env["VIDEO_SIMILARITY_BACKEND"] = config.backend
    env["VIDEO_SIMILARITY_DEVICE"] = config.device
    env.setdefault("PYTHONUNBUFFERED", "1")
    # rank 0 of a training job logs its curves into the pipeline's MLflow run (tracking/curves.py); none when untracked
    env.pop("MLFLOW_RUN_ID", None)
    env.update(worker_environment())
    return env


def _interrupt(process: subprocess.Popen, grace: float = 5.0, stop: float = 30.0) -> None:
    """Stop the job of an interrupted caller. Ctrl-C in a terminal reaches torchrun too, which stops its workers:
    it is given ``grace`` seconds (a second signal would cut its shutdown short). A signal to this process alone
    does not: the job is then sent SIGINT itself (torchrun passes it on), and killed after ``stop`` seconds.
    Its output is drained meanwhile, so that a full pipe cannot hold it up."""
    threading.Thread(target=deque, args=(process.stdout, 0), daemon=True).start()
    for signal_to_send, wait in ((None, grace), (signal.SIGINT, stop), (signal.SIGKILL, None)):
        if signal_to_send is not None:
            process.send_signal(signal_to_send)
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def launch(module: str, spec: dict, config: LaunchConfig, workdir: str | Path | None = None) -> None:
    """Run ``module`` under torchrun with ``spec`` (written to a JSON file); raise LaunchError on failure.

    The job's output is streamed to this process's log; a failing worker's
    traceback (workers use torch's ``@record``) ends up in the error message.
    """
    workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="torchrun_"))
    workdir.mkdir(parents=True, exist_ok=True)
    spec_path = workdir / f"{module.rsplit('.', 1)[-1]}_job.json"
    spec_path.write_text(json.dumps(spec, indent=2, default=str))
    command = job_command(module, spec_path, config)
    log.info("Launching %s", " ".join(command))
    tail: deque[str] = deque(maxlen=60)
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=_environment(config), bufsize=1) as process:
        try:
            for line in process.stdout:
                line = line.rstrip("\n")
                tail.append(line)
                if line.strip():
                    log.info("[%s] %s", module.rsplit(".", 1)[-1], line)
        except KeyboardInterrupt:
            _interrupt(process)
            raise
        code = process.wait()
    if code != 0:
        raise LaunchError(f"job {module} failed with exit code {code} (spec {spec_path}):\n" + "\n".join(tail))
