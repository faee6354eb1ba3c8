"""The training entry under torchrun: reads a task's job and runs that task (``training/tasks/<task>.py``).

Every task runs the one loop (:mod:`video_similarity.training.loop`): resume,
DDP on gloo or nccl, this rank's share of each epoch's batches, a checkpoint of
the one format after every epoch. The job carries every setting (the node's
parameter dataclasses typed them); nothing here or in a task has a default.
"""

from __future__ import annotations

import logging
import sys

from torch.distributed.elastic.multiprocessing.errors import record

from video_similarity.distributed import finish, init_worker
from video_similarity.jobs import read_job


@record
def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    job = read_job()
    module = type(job).__module__
    if not module.startswith("video_similarity.training.tasks."):
        raise ValueError(f"the training entry runs training tasks' jobs, not {type(job).__name__}")
    context = init_worker()
    sys.modules[module].run(job, context)  # the job's own task module (read_job imported it)
    finish(context)


if __name__ == "__main__":
    main()
