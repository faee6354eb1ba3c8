"""The decoding worker: each rank archives its share of preprocess's videos, then rank 0 merges the rows.

Its job is :class:`~video_similarity.frames.preprocess_job.DecodeJob`. Decoding
is CPU work, so ranks join the group with gloo on any host (nccl on a GPU host
would buy nothing). Ranks that finish their shares hours apart meet at the last
barrier, so its wait is a day, not torch's 30 minutes; a rank that dies closes
its connections and fails the wait at once.

A rank's decoding pool starts its processes with spawn, which imports this
module again in each of them (it is ``__main__``): its imports are inside the
functions, or every decoding process would first import torch.
"""

from __future__ import annotations

import logging
import os
from datetime import timedelta

WAIT = timedelta(hours=24)


def main() -> None:
    from torch.distributed.elastic.multiprocessing.errors import record

    record(_main)()


def _main() -> None:
    from video_similarity.distributed import finish, init_worker
    from video_similarity.frames.preprocess_job import DecodeJob
    from video_similarity.jobs import read_job

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    job = read_job()
    if not isinstance(job, DecodeJob):
        raise ValueError(f"the decoding worker runs decoding jobs, not {type(job).__name__}")
    context = init_worker(backend="gloo", device="cpu", timeout=WAIT)
    run(job, context)
    finish(context)


def run(job, context) -> None:
    """This rank's share of ``job``, then rank 0's merge (also called in the caller's process: ``launch.in_process``)."""
    from video_similarity.distributed import barrier
    from video_similarity.frames.preprocess_job import decode_share, merge

    decode_share(job, context.rank, context.world_size, int(os.environ.get("LOCAL_WORLD_SIZE", "1")))
    barrier(context)  # every rank's rows are written
    if context.is_main:
        merge(job, context.world_size)
    barrier(context)  # the merge is written: each host's node reads it when its launch returns


if __name__ == "__main__":
    main()
