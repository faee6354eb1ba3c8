"""The per-video process pool: a dead worker costs one job, Ctrl-C / SIGTERM stop it within seconds, orphans exit."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from video_similarity.parallel import run_parallel

REPO = Path(__file__).resolve().parents[1]


def square_or_die(x):
    if x == 3:
        os.kill(os.getpid(), signal.SIGKILL)  # as the OOM killer would
    return x * x


def test_a_worker_killed_by_the_os_costs_its_job_only():
    crashed = []
    results = list(run_parallel(square_or_die, range(8), 2, "test", on_crash=lambda job, why: crashed.append((job, why)) or -1))
    assert sorted(r for r in results if r != -1) == [x * x for x in range(8) if x != 3]
    assert crashed == [(3, "killed by SIGKILL")]


def test_one_process_with_a_crash_handler_still_isolates_the_crash():
    crashed = []
    results = list(run_parallel(square_or_die, [2, 3, 4], 1, "test", on_crash=lambda job, why: crashed.append(job) or None))
    assert sorted(r for r in results if r is not None) == [4, 16] and crashed == [3]


def _children(pid: int) -> list[int]:
    """Direct children of ``pid``, from /proc (no procps needed)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:  # the field after the state is the parent's pid
            found.append(int(stat.parent.name))
    return found


SLOW_POOL = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {repo!r})
    from tests.test_parallel import nap
    from video_similarity.parallel import run_parallel
    for _ in run_parallel(nap, range(40), 2, "slow"):
        print("done", flush=True)
""")


def nap(x):
    time.sleep(1.5)
    return x


def _start_pool():
    process = subprocess.Popen([sys.executable, "-c", SLOW_POOL.format(repo=str(REPO))], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert process.stdout.readline().strip() == "done"  # the pool is running and has finished a job
    workers = _children(process.pid)
    assert workers
    return process, workers


def _gone(pids, within: float) -> bool:
    deadline = time.time() + within
    while time.time() < deadline:
        if not [p for p in pids if Path(f"/proc/{p}").exists() and "zombie" not in Path(f"/proc/{p}/status").read_text().lower()]:
            return True
        time.sleep(0.1)
    return False


def test_sigint_and_sigterm_stop_the_pool_within_seconds_and_leave_no_worker():
    for sig in (signal.SIGINT, signal.SIGTERM):
        process, workers = _start_pool()
        started = time.time()
        process.send_signal(sig)
        process.wait(timeout=10)
        assert time.time() - started < 5, f"{sig.name}: the queue kept running"
        assert _gone(workers, 5), f"{sig.name}: workers left behind"


def test_workers_of_a_killed_parent_exit_by_themselves():
    process, workers = _start_pool()
    process.kill()
    process.wait(timeout=10)
    assert _gone(workers, 8)
