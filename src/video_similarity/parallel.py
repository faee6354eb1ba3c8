"""Run independent per-video jobs on all cores with a progress bar, surviving dead workers and stopping on Ctrl-C.

Worker processes are started with ``spawn``: the parent may hold threads
(logging, torch) that make ``fork`` unsafe, and spawn behaves the same on
Linux and macOS. One worker runs inline, which keeps tracebacks simple.

* A worker killed by the OS (out of memory, a decoder segfault) breaks the
  pool. The jobs that were running then are rerun one at a time in a pool of
  their own: the one that breaks it again is reported through ``on_crash``
  (with the signal) and the rest goes on in a new pool.
* SIGINT and SIGTERM stop the pool within seconds: queued jobs are cancelled,
  running workers terminated, and the interrupt is raised in the parent.
  Finished jobs were already yielded (and their outputs written atomically),
  so a rerun resumes.
* A worker whose parent disappears (SIGKILL) exits by itself.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from typing import TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")
R = TypeVar("R")

PARENT_POLL_SECONDS = 1.0


def worker_count(requested: int | None, n_jobs: int) -> int:
    """``requested`` processes (None or 0: one per core), never more than there are jobs."""
    return max(1, min(requested or os.cpu_count() or 1, max(n_jobs, 1)))


def _exit_with_parent(parent: int) -> None:
    """Worker initialiser: leave when the parent is gone, instead of waiting forever for work."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # the parent decides; a worker just stops

    def watch() -> None:
        while True:
            time.sleep(PARENT_POLL_SECONDS)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def _signal_name(processes) -> str:
    """How the dead worker died: its signal if it had one other than the SIGTERM the executor sends the others."""
    codes = [p.exitcode for p in processes if p.exitcode not in (None, 0)]
    for code in sorted(codes, key=lambda c: (c == -signal.SIGTERM, c >= 0)):
        if code < 0:
            try:
                return f"killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"killed by signal {-code}"
    return f"exit code {codes[0]}" if codes else "terminated abruptly"


def _death_reason(processes: list, wait: float = 2.0) -> str:
    """:func:`_signal_name` once the dead worker's exit code can be read. The executor's own thread reaps the
    same processes: a read that races it gets no code yet (its ``waitpid`` fails with ECHILD) until that
    thread has stored it, so the codes are polled for up to ``wait`` seconds."""
    deadline = time.monotonic() + wait
    for process in processes:
        process.join(timeout=wait)
    while all(p.exitcode in (None, 0) for p in processes) and time.monotonic() < deadline:
        time.sleep(0.05)
    return _signal_name(processes)


def _stop(pool: ProcessPoolExecutor) -> None:
    """Cancel what is queued and terminate the workers now (the executor's own shutdown waits for running jobs)."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(timeout=5)
        if process.is_alive():
            process.kill()


class _Interrupted(KeyboardInterrupt):
    """SIGTERM, raised in the parent like Ctrl-C."""


def _raise_interrupt(signum, frame) -> None:
    raise _Interrupted(f"stopped by {signal.Signals(signum).name}")


class _Tracked:
    """``fn(job)`` that leaves a note of its job while it runs, so a dead worker's job can be named."""

    def __init__(self, fn, folder: str):
        self.fn, self.folder = fn, folder

    def __call__(self, indexed):
        index, job = indexed
        note = os.path.join(self.folder, str(os.getpid()))
        with open(note, "w") as handle:
            handle.write(str(index))
        result = self.fn(job)
        os.unlink(note)
        return result


def _run_pool(fn, jobs: list, n: int, bar, labels: list) -> Iterator[tuple[str, object, object]]:
    """("done", label, result) per finished job; on a broken pool, ("broken", label, reason) for each job then in flight."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="vs-pool-") as notes:
        pool = ProcessPoolExecutor(max_workers=n, mp_context=get_context("spawn"), initializer=_exit_with_parent, initargs=(os.getpid(),))
        try:
            futures = {pool.submit(_Tracked(fn, notes), (i, job)): i for i, job in enumerate(jobs)}
            pending, completed, workers = set(futures), set(), {}
            while pending:
                workers.update(getattr(pool, "_processes", None) or {})  # the executor forgets them when it breaks
                done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                for future in done:
                    try:
                        result = future.result()
                    except BrokenProcessPool:
                        workers.update(getattr(pool, "_processes", None) or {})
                        reason = _death_reason(list(workers.values()))
                        in_flight = sorted({int(open(os.path.join(notes, name)).read() or -1) for name in os.listdir(notes)} - {-1})
                        unfinished = [i for i in range(len(jobs)) if i not in completed]
                        for index in in_flight or unfinished:  # no note: every unfinished job is a suspect
                            yield "broken", labels[index], reason
                        return
                    completed.add(futures[future])
                    bar.update()
                    yield "done", labels[futures[future]], result
        finally:
            _stop(pool)


def run_parallel(
    fn: Callable[[T], R],
    jobs: Iterable[T],
    workers: int | None,
    desc: str,
    unit: str = "video",
    on_crash: Callable[[T, str], R] | None = None,
    progress: bool = True,
) -> Iterator[R]:
    """Yield ``fn(job)`` for every job, in completion order, showing progress (a bar unless ``progress`` is false).

    ``fn`` must be a module-level function and jobs must pickle. A job whose
    worker process dies yields ``on_crash(job, reason)`` (without ``on_crash``
    the BrokenProcessPool is raised).
    """
    jobs = list(jobs)
    n = worker_count(workers, len(jobs))
    bar = tqdm(total=len(jobs), desc=desc, unit=unit, disable=not progress)
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGTERM) if main_thread else None
    if main_thread:
        signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        if n == 1 and on_crash is None:
            for job in jobs:
                yield fn(job)
                bar.update()
            return
        queue = list(range(len(jobs)))  # indexes: equal jobs stay distinct
        while queue:
            suspects, finished = [], set()
            for kind, index, value in _run_pool(fn, [jobs[i] for i in queue], n, bar, queue):
                if kind == "done":
                    finished.add(index)
                    yield value
                else:
                    suspects.append((index, value))
            if not suspects:
                return
            if on_crash is None:
                raise BrokenProcessPool(f"a worker process died ({suspects[0][1]})")
            for index, _ in suspects:  # alone in a pool of its own: only the culprit breaks it again
                for kind, _, value in _run_pool(fn, [jobs[index]], 1, bar, [index]):
                    if kind == "done":
                        yield value
                    else:
                        bar.update()
                        yield on_crash(jobs[index], value)
            blamed = {index for index, _ in suspects}
            queue = [i for i in queue if i not in finished and i not in blamed]
    finally:
        bar.close()
        if main_thread:
            signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)
