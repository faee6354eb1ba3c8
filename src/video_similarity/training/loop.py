"""The one training loop: resume, DDP, this rank's batches, a checkpoint after every epoch.

Every model this project trains (the descriptor ensemble's members, the video
transformer) runs through :func:`fit`; what differs is a :class:`Task`: its
batches for an epoch and the loss of one batch. Checkpoints are the one format
of :mod:`video_similarity.models.checkpoint`; a checkpoint of the same kind and
config resumes after its last completed epoch, anything else (another config,
an older format) is logged and training starts over.

Why not Lightning Fabric: under torchrun it would own the process group, but
the extraction worker (which has no training loop) needs the same group set up
by ``distributed.init_worker``; two ways of joining one group is worse than the
thirty lines here, which are resume, DDP wrapping and the epoch loop.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger("video_similarity.train")


class Task(Protocol):
    """What one kind of training contributes to the loop."""

    name: str

    def batches(self, epoch: int) -> Sequence[Any]:
        """This rank's batches of ``epoch`` (every rank gets as many)."""

    def loss(self, trained, batch) -> Any:
        """The scalar loss of one batch; ``trained`` may be wrapped in DDP."""


def resume(checkpoint: Path, kind: str, config: dict, model, optimizer, context) -> int:
    """Restore model and optimiser from ``checkpoint`` when it is of this kind and config; the epochs done."""
    from video_similarity.models.checkpoint import CheckpointError, read_checkpoint

    if not checkpoint.is_file():
        return 0
    try:
        state = read_checkpoint(checkpoint, kind=kind, map_location=context.device)
    except CheckpointError as error:
        if context.is_main:
            log.info("Not resuming from %s (%s); training from the start", checkpoint, error)
        return 0
    if state.config != config or state.optimizer is None:
        if context.is_main:
            log.info("Not resuming from %s: it was trained with another configuration", checkpoint)
        return 0
    model.load_state_dict(state.state_dict)
    optimizer.load_state_dict(state.optimizer)
    if context.is_main:
        log.info("Resuming from %s (epoch %d done)", checkpoint, state.epoch)
    return state.epoch


def fit(model, optimizer, task: Task, *, epochs: int, checkpoint: str | Path, kind: str, config: dict, context) -> None:
    """Train ``model`` for ``epochs`` (resuming), checkpointing on rank 0 after every epoch."""
    import torch

    from video_similarity.distributed import barrier
    from video_similarity.models.checkpoint import save_checkpoint

    checkpoint = Path(checkpoint)
    start = resume(checkpoint, kind, config, model, optimizer, context)
    trained = model
    if context.world_size > 1:
        trained = torch.nn.parallel.DistributedDataParallel(model, device_ids=[context.local_rank] if context.device.startswith("cuda") else None)
    for epoch in range(start, epochs):
        trained.train()
        started, total, steps = time.perf_counter(), 0.0, 0
        for batch in task.batches(epoch):
            loss = task.loss(trained, batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total, steps = total + loss.item(), steps + 1
        if context.is_main:
            log.info("%s epoch %d/%d: loss %.4f (%.1fs)", task.name, epoch + 1, epochs, total / max(1, steps), time.perf_counter() - started)
            save_checkpoint(checkpoint, kind, model, config, optimizer, epoch + 1)
        barrier(context)
