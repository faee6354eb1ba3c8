"""Run independent per-video jobs on all cores with a progress bar.

Worker processes are started with ``spawn``: the parent may hold threads
(logging, torch) that make ``fork`` unsafe, and spawn behaves the same on
Linux and macOS. One worker runs inline, which keeps tracebacks simple.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from typing import TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")
R = TypeVar("R")


def worker_count(requested: int | None, n_jobs: int) -> int:
    """``requested`` processes (None or 0: one per core), never more than there are jobs."""
    return max(1, min(requested or os.cpu_count() or 1, max(n_jobs, 1)))


def run_parallel(
    fn: Callable[[T], R], jobs: Iterable[T], workers: int | None, desc: str, unit: str = "video"
) -> Iterator[R]:
    """Yield ``fn(job)`` for every job, in completion order, showing progress.

    ``fn`` must be a module-level function and jobs must pickle.
    """
    jobs = list(jobs)
    n = worker_count(workers, len(jobs))
    bar = tqdm(total=len(jobs), desc=desc, unit=unit)
    try:
        if n == 1:
            for job in jobs:
                yield fn(job)
                bar.update()
            return
        with ProcessPoolExecutor(max_workers=n, mp_context=get_context("spawn")) as pool:
            for future in as_completed([pool.submit(fn, job) for job in jobs]):
                yield future.result()
                bar.update()
    finally:
        bar.close()
