"""Task ``vid_score``: the rank-1's video score (:mod:`video_similarity.models.vid_score`), "holds copied content" per query.

Labelled query videos' frame features (extraction items) -> logits, BCE, warmup
then linear decay of the lr. Rank 0 exports TorchScript and writes a report of
the validation scores and their AP.
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
class VideoScoreJob:
    """Written by ``train_vid_score``, read by the training entry."""

    WORKER: ClassVar[str] = TRAIN_WORKER

    name: str
    items: dict[str, str]  # {video_id: the encoder's frame features}
    labels: dict[str, int]  # {video_id: 1 when it holds a copy}
    train_ids: list[str]
    val_ids: list[str]
    max_frames: int
    width: int
    depth: int
    heads: int
    dropout: float
    lr: float
    weight_decay: float
    warmup: float
    epochs: int
    batch_size: int
    seed: int
    checkpoint: str
    torchscript: str
    report: str

    def model_options(self) -> dict:
        return {"width": self.width, "depth": self.depth, "heads": self.heads, "max_frames": self.max_frames, "dropout": self.dropout}

    def training(self) -> dict:
        """The training settings, part of the checkpoint's config: the schedule spans every epoch, so a longer run is another run."""
        return {"lr": self.lr, "weight_decay": self.weight_decay, "warmup": self.warmup, "epochs": self.epochs,
                "batch_size": self.batch_size, "seed": self.seed}


class VideoScoreTask:
    """BCE with logits of "this video holds copied content" over the training ids' padded frame features.

    Class imbalance: when the training ids hold both classes the positive
    term is weighted by pos_weight = n_neg / n_pos (so both classes weigh the
    same in the loss); with one class only there is no weighting. Each epoch
    shuffles the training ids with (seed, epoch), cuts them into batches of
    ``batch_size`` (the last one may be shorter) and gives each rank its share.
    """

    name = "video score"

    def __init__(self, job: VideoScoreJob, rows: dict[str, np.ndarray], context):
        import torch

        self.job, self.rows, self.context = job, rows, context
        self.ids = list(job.train_ids)
        self.labels = {v: float(job.labels[v]) for v in self.ids}
        positives = sum(1 for v in self.ids if self.labels[v] > 0.5)
        self.positives, self.negatives = positives, len(self.ids) - positives
        weight = torch.tensor(self.negatives / positives) if positives and self.negatives else None
        self.criterion = torch.nn.BCEWithLogitsLoss(pos_weight=weight).to(context.device)

    def batches(self, epoch: int) -> list:
        order = np.random.default_rng((self.job.seed, epoch)).permutation(len(self.ids))
        size = self.job.batch_size
        return rank_share([[self.ids[i] for i in order[j : j + size]] for j in range(0, len(order), size)], self.context)

    def loss(self, trained, batch):
        import torch

        from video_similarity.models.vid_score import pad_features

        x, mask = pad_features([self.rows[v] for v in batch], self.job.max_frames)
        device = self.context.device
        logits = trained(torch.from_numpy(x).to(device), torch.from_numpy(mask).to(device))
        return self.criterion(logits, torch.tensor([self.labels[v] for v in batch], device=device))


def average_precision(labels: list[int], scores: list[float]) -> float | None:
    """sklearn's average precision; None (JSON null) when no video holds a copy (it is undefined then)."""
    from sklearn.metrics import average_precision_score

    return float(average_precision_score(labels, scores)) if any(labels) else None


def run(job: VideoScoreJob, context) -> None:
    """Train, then on rank 0: TorchScript export and the report (validation ids, or the training ids when there are none)."""
    import torch

    from video_similarity.atomic import atomic_write
    from video_similarity.models.checkpoint import export_torchscript
    from video_similarity.models.vid_score import CHECKPOINT_KIND, score_videos, video_score_model
    from video_similarity.training.loop import fit, warmup_linear

    train_ids, val_ids = list(job.train_ids), list(job.val_ids)
    missing = sorted(v for v in train_ids + val_ids if v not in job.items or v not in job.labels)
    if missing:
        raise ValueError(f"vid_score job: {len(missing)} train/val id(s) without an item or a label, e.g. {missing[:5]}")
    if not train_ids:
        raise ValueError("vid_score job: no training ids")
    rows = {}
    for video_id in train_ids:
        with np.load(job.items[video_id]) as data:
            rows[video_id] = data["features"].astype(np.float32)
    feature_dim = next(iter(rows.values())).shape[1]
    torch.manual_seed(job.seed)
    model = video_score_model(feature_dim, **job.model_options()).to(context.device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=job.lr, weight_decay=job.weight_decay)
    task = VideoScoreTask(job, rows, context)
    if context.is_main:
        log.info("%s: %d training videos (%d with copies), %d steps/epoch x %d epochs, %d process(es) on %s", job.name, len(train_ids),
                 task.positives, len(task.batches(0)), job.epochs, context.world_size, context.device)
    fit(model, optimizer, task, epochs=job.epochs, checkpoint=job.checkpoint, kind=CHECKPOINT_KIND,
        config={**model.config, **job.training()}, context=context, schedule=warmup_linear(job.warmup))
    if not context.is_main:
        return
    model.eval()
    export_torchscript(model.cpu(), job.torchscript)
    evaluated_on, ids = ("val", val_ids) if val_ids else ("train", train_ids)
    scores = score_videos(job.torchscript, {v: job.items[v] for v in ids}, job.max_frames)
    labels = [int(job.labels[v]) for v in ids]
    report = {"val_ap": average_precision(labels, [scores[v] for v in ids]), "val_videos": len(ids), "val_positives": sum(labels),
              "scores": scores, "evaluated_on": evaluated_on}
    atomic_write(job.report, lambda fh: fh.write(json.dumps(report, indent=2).encode()))
    log.info("%s: AP %s over %d %s videos (%d with copies)", job.name, report["val_ap"], len(ids), evaluated_on, sum(labels))
