"""Task ``alignment``: the alignment network (:mod:`video_similarity.models.alignment`), copied cells of similarity matrices.

Composed training pairs (``vsc/alignment_pairs.py``: matrices and 0/1 targets)
-> per-cell logits, binary cross-entropy over the real cells, the copied cells
weighted by ``positive_weight`` (1: unweighted, so that the probabilities stay
calibrated: segments of different pairs are ranked by them, and a weight > 1
inflates every plausible cell towards 1). Each epoch shuffles the pairs with (seed, epoch); a batch is padded to
its largest matrix. Rank 0 exports TorchScript and writes a report.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from video_similarity.training.loop import rank_share
from video_similarity.training.tasks import TRAIN_WORKER

log = logging.getLogger("video_similarity.train")

@dataclass(frozen=True)
class AlignmentJob:
    """Written by ``vsc_matching``'s training node, read by the training entry."""

    WORKER: ClassVar[str] = TRAIN_WORKER

    name: str
    pairs: str  # the AlignmentPairs npz
    width: int
    dilations: list[int]
    epochs: int
    batch_size: int
    lr: float
    weight_decay: float
    positive_weight: float
    seed: int
    checkpoint: str
    torchscript: str
    report: str

    def training(self) -> dict:
        return {"lr": self.lr, "weight_decay": self.weight_decay, "positive_weight": self.positive_weight, "epochs": self.epochs, "batch_size": self.batch_size, "seed": self.seed}


class AlignmentTask:
    """Masked, positive-weighted BCE of the heat map over padded batches of matrices."""

    name = "alignment network"

    def __init__(self, job: AlignmentJob, sims: list, targets: list, context):
        import torch

        self.job, self.sims, self.targets, self.context = job, sims, targets, context
        self.positive_weight = torch.tensor(float(job.positive_weight), device=context.device)

    def batches(self, epoch: int) -> list:
        order = np.random.default_rng((self.job.seed, epoch)).permutation(len(self.sims))
        size = self.job.batch_size
        return rank_share([order[i : i + size].tolist() for i in range(0, len(order), size)], self.context)

    def loss(self, trained, batch):
        import torch
        import torch.nn.functional as F

        from video_similarity.models.alignment import pad_matrices

        x, mask = pad_matrices([self.sims[i] for i in batch])
        y, _ = pad_matrices([self.targets[i].astype(np.float32) for i in batch], value=0.0)
        device = self.context.device
        x, mask, y = torch.from_numpy(x).to(device), torch.from_numpy(mask).to(device), torch.from_numpy(y).to(device)
        logits = trained(x, mask)
        per_cell = F.binary_cross_entropy_with_logits(logits, y, pos_weight=self.positive_weight, reduction="none")
        return (per_cell * mask).sum() / mask.sum().clamp(min=1)


def run(job: AlignmentJob, context) -> None:
    """Train, then on rank 0: TorchScript export and the report (pairs by kind, copied cells, the loss curve)."""
    import torch

    from video_similarity.atomic import atomic_write
    from video_similarity.models.alignment import CHECKPOINT_KIND, AlignmentNet
    from video_similarity.models.checkpoint import export_torchscript
    from video_similarity.training.loop import fit
    from video_similarity.vsc.alignment_pairs import AlignmentPairs

    pairs = AlignmentPairs.load(job.pairs)
    if not pairs.sims:
        raise ValueError(f"alignment job: {job.pairs} holds no training pairs")
    torch.manual_seed(job.seed)
    model = AlignmentNet(job.width, job.dilations).to(context.device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=job.lr, weight_decay=job.weight_decay)
    task = AlignmentTask(job, pairs.sims, pairs.targets, context)
    if context.is_main:
        log.info("%s: %d pairs, %d steps/epoch x %d epochs, copied cells weighted %.1f, %d process(es) on %s", job.name, len(pairs.sims),
                 len(task.batches(0)), job.epochs, float(task.positive_weight), context.world_size, context.device)
    history = fit(model, optimizer, task, epochs=job.epochs, checkpoint=job.checkpoint, kind=CHECKPOINT_KIND,
                  config={**model.config, **job.training()}, context=context)
    if not context.is_main:
        return
    model.eval()
    export_torchscript(model.cpu(), job.torchscript)
    kinds = {k: pairs.kinds.count(k) for k in sorted(set(pairs.kinds))}
    report = {"pairs": len(pairs.sims), "kinds": kinds, "copied_cells": int(sum(int(t.sum()) for t in pairs.targets)),
              "cells": int(sum(t.size for t in pairs.targets)), "positive_weight": float(task.positive_weight), "history": history}
    atomic_write(job.report, lambda fh: fh.write(json.dumps(report, indent=2).encode()))
