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

Learning-rate schedule: ``fit(..., schedule=f)`` sets each parameter group's
lr to ``initial_lr * f(global_step, total_steps)`` before every optimiser
step, with ``global_step = epoch * steps_per_epoch + batch_index`` and
``total_steps = epochs * steps_per_epoch``, ``steps_per_epoch`` being
``len(task.batches(0))``. The step is computed, not counted, and
``initial_lr`` is kept in the optimiser's param groups (so in its checkpointed
state), so a resumed run continues the schedule exactly where the
uninterrupted one would be. Because ``total_steps`` depends on ``epochs``, a
task with a schedule should put ``epochs`` in its checkpoint config: a longer
run is another schedule, not a continuation. A task whose later epochs have
more batches than epoch 0 gets steps past ``total_steps``; schedules must
accept them (:func:`warmup_linear` gives 0 there).

History: each epoch's mean loss and time, and whatever the task's optional
``after_epoch(model)`` returns (rank 0, the bare model in eval mode: a
validation accuracy for the training curves), are kept in the checkpoint's
``extra["history"]``, so a resumed run still has its earlier epochs; ``fit``
returns the list. Each row also holds the learning rate of the epoch's last step.

Curves: rank 0 logs each row into the Kedro run's MLflow run as
``train.<track_as or task.name>.<figure>`` at step = epoch
(:class:`video_similarity.tracking.curves.TrainingCurves`, when the launcher
passed ``MLFLOW_RUN_ID``); a resumed run first logs the epochs its checkpoint
already holds, so the run's history is whole, not restarted.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
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


def rank_share(batches: list, context, equal_sizes: bool = False) -> list:
    """This rank's share of an epoch's batches, which every rank computes alike (same seed): equal step counts.

    Step i uses ``batches[i*W : (i+1)*W]``, one per rank; tiny data is repeated so
    that every rank still gets a step. ``equal_sizes`` cuts each step's batches to
    the shortest of them (a task that gathers across ranks needs equal sizes).
    """
    world = context.world_size
    while len(batches) < world:
        batches = batches + batches
    steps = len(batches) // world
    groups = [batches[i * world : (i + 1) * world] for i in range(steps)]
    mine = [group[context.rank] for group in groups]
    if equal_sizes:
        mine = [batch[: min(len(b) for b in group)] for batch, group in zip(mine, groups)]
    return mine


def resume(checkpoint: Path, kind: str, config: dict, model, optimizer, context) -> tuple[int, list[dict]]:
    """Restore model and optimiser from ``checkpoint`` when it is of this kind and config; the epochs done and their history."""
    from video_similarity.models.checkpoint import CheckpointError, read_checkpoint

    if not checkpoint.is_file():
        return 0, []
    try:
        state = read_checkpoint(checkpoint, kind=kind, map_location=context.device)
    except CheckpointError as error:
        if context.is_main:
            log.info("Not resuming from %s (%s); training from the start", checkpoint, error)
        return 0, []
    if state.config != config or state.optimizer is None:
        if context.is_main:
            log.info("Not resuming from %s: it was trained with another configuration", checkpoint)
        return 0, []
    model.load_state_dict(state.state_dict)
    optimizer.load_state_dict(state.optimizer)
    if context.is_main:
        log.info("Resuming from %s (epoch %d done)", checkpoint, state.epoch)
    return state.epoch, list(state.extra.get("history") or [])


def warmup_linear(warmup_fraction: float) -> Callable[[int, int], float]:
    """The rank-1's schedule: lr factor rising linearly from 0 over the first ``warmup_fraction`` of the steps to 1, then falling linearly to 0 at the end."""
    if not 0.0 <= warmup_fraction <= 1.0:
        raise ValueError(f"warmup_fraction must be in [0, 1], got {warmup_fraction}")

    def factor(step: int, total_steps: int) -> float:
        warmup = warmup_fraction * total_steps
        if step < warmup:
            return step / warmup
        if step >= total_steps:
            return 0.0
        return (total_steps - step) / (total_steps - warmup)

    return factor


def multistep(milestones: Sequence[int], gamma: float, epochs: int) -> Callable[[int, int], float]:
    """SEVERE's fine-tuning schedule (torch's MultiStepLR by epoch): the lr times ``gamma`` at each milestone epoch passed."""
    marks = sorted(int(m) for m in milestones)

    def factor(step: int, total_steps: int) -> float:
        epoch = step * epochs // max(1, total_steps)
        return float(gamma) ** sum(1 for m in marks if epoch >= m)

    return factor


def fit(model, optimizer, task: Task, *, epochs: int, checkpoint: str | Path, kind: str, config: dict, context,
        schedule: Callable[[int, int], float] | None = None, track_as: str | None = None) -> list[dict]:
    """Train ``model`` for ``epochs`` (resuming), checkpointing on rank 0 after every epoch.

    ``schedule(global_step, total_steps)``, when given, is the factor of each
    param group's initial lr for the coming step (see the module docstring).
    ``track_as`` names the model's curves in the MLflow run (default: the task's name).
    Returns the history of every epoch (rank 0's; other ranks get the resumed part).
    """
    import torch

    from video_similarity.distributed import barrier
    from video_similarity.models.checkpoint import save_checkpoint
    from video_similarity.tracking.curves import TrainingCurves

    checkpoint = Path(checkpoint)
    start, history = resume(checkpoint, kind, config, model, optimizer, context)
    curves = TrainingCurves.from_environment(track_as or task.name) if context.is_main else None
    if curves is not None and history:
        curves.record(history)  # the checkpoint's epochs, unless this run has them already
    if schedule is not None:  # after resume, so a resumed optimiser keeps the initial lr of its checkpoint
        steps_per_epoch = len(task.batches(0))
        initial = [group.setdefault("initial_lr", group["lr"]) for group in optimizer.param_groups]
    trained = model
    if context.world_size > 1:
        trained = torch.nn.parallel.DistributedDataParallel(model, device_ids=[context.local_rank] if context.device.startswith("cuda") else None)
    for epoch in range(start, epochs):
        trained.train()
        started, total, steps = time.perf_counter(), 0.0, 0
        for index, batch in enumerate(task.batches(epoch)):
            if schedule is not None:
                factor = float(schedule(epoch * steps_per_epoch + index, epochs * steps_per_epoch))
                for group, lr in zip(optimizer.param_groups, initial):
                    group["lr"] = lr * factor
            loss = task.loss(trained, batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total, steps = total + loss.item(), steps + 1
        if context.is_main:
            row = {"epoch": epoch + 1, "loss": total / max(1, steps), "lr": float(optimizer.param_groups[0]["lr"]),
                   "seconds": round(time.perf_counter() - started, 3)}
            if hasattr(task, "after_epoch"):
                model.eval()
                row.update(task.after_epoch(model))
            history.append(row)
            shown = "".join(f", {k} {v:.4f}" for k, v in row.items() if k not in ("epoch", "loss", "lr", "seconds") and isinstance(v, float))
            log.info("%s epoch %d/%d: loss %.4f%s (%.1fs)", task.name, epoch + 1, epochs, row["loss"], shown, row["seconds"])
            save_checkpoint(checkpoint, kind, model, config, optimizer, epoch + 1, extra={"history": history})
            if curves is not None:
                curves.record(history)
        barrier(context)
    return history
