"""Task ``clip_classifier`` (the action pipelines): clips of the clip archives -> class logits, cross-entropy.

TVN-1 from scratch or a registry clip encoder fine-tuned
(:mod:`video_similarity.models.clip_classifier`), Adam or SGD with an optional
multi-step schedule. Each epoch records the clip accuracy of the evaluation
videos' first clips (the training curves); rank 0 then writes the logits of
every clip of every evaluation video and the history.
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
class ClipClassifierJob:
    """Written by ``action/classifier_jobs.py`` for both action pipelines, read by the training entry."""

    WORKER: ClassVar[str] = TRAIN_WORKER

    name: str
    model: dict  # models/clip_classifier.py's config: {network: tvn1, ...} or a registry encoder and its head
    archives: dict[str, str]  # {video_id: clip archive}
    labels: dict[str, int]
    train_ids: list[str]
    eval_ids: list[str]  # in index order (by class): an evenly spaced sample covers every class
    clip_frames: int
    input_size: int
    optimizer: str  # adam | sgd
    lr: float
    weight_decay: float
    momentum: float
    batch_size: int
    epochs: int
    milestones: list[int]
    gamma: float
    train_clips: str  # first | all
    curve_videos: int
    seed: int
    checkpoint: str
    predictions: str
    history: str

    def training(self) -> dict:
        """The training settings a fine-tuned classifier's checkpoint config holds."""
        keys = ("lr", "weight_decay", "optimizer", "momentum", "batch_size", "epochs", "milestones", "gamma", "seed",
                "train_clips", "clip_frames", "input_size")
        return {k: getattr(self, k) for k in keys}


class ClipClassificationTask:
    """Cross-entropy over clips of the training videos' clip archives (the first clip of each, or every clip)."""

    name = "clip classifier"

    def __init__(self, job: ClipClassifierJob, context):
        import torch

        from video_similarity.action.clip_archives import archive_clip_count

        self.job, self.context = job, context
        if job.train_clips == "all":
            self.examples = [(v, k) for v in job.train_ids for k in range(archive_clip_count(job.archives[v], job.clip_frames))]
        else:
            self.examples = [(v, 0) for v in job.train_ids]
        ids = list(job.eval_ids)
        step = max(1, -(-len(ids) // max(1, job.curve_videos)))
        self.curve = ids[::step]
        self.criterion = torch.nn.CrossEntropyLoss()

    def clips(self, pairs: list[tuple[str, int]]):
        from video_similarity.action.clip_archives import read_archive_clip
        from video_similarity.video.clips import to_clip_tensor

        job = self.job
        return to_clip_tensor([read_archive_clip(job.archives[v], k, job.clip_frames, job.input_size) for v, k in pairs])

    def batches(self, epoch: int) -> list:
        order = np.random.default_rng((self.job.seed, epoch)).permutation(len(self.examples))
        size = self.job.batch_size
        return rank_share([[self.examples[i] for i in order[j : j + size]] for j in range(0, len(order), size)], self.context)

    def loss(self, trained, batch):
        import torch

        targets = torch.tensor([self.job.labels[v] for v, _ in batch], device=self.context.device)
        return self.criterion(trained(self.clips(batch).to(self.context.device)), targets)

    def after_epoch(self, model) -> dict:
        """Clip accuracy of the evaluation videos' first clips (no evaluation videos: nothing)."""
        import torch

        if not self.curve:
            return {}
        right = 0
        with torch.no_grad():
            for i in range(0, len(self.curve), 32):
                ids = self.curve[i : i + 32]
                predicted = model(self.clips([(v, 0) for v in ids]).to(self.context.device)).argmax(1).cpu().numpy()
                right += int(sum(int(p) == self.job.labels[v] for p, v in zip(predicted, ids)))
        return {"eval_clip_accuracy": right / len(self.curve)}


def clip_logits(model, archives: dict[str, str], clip_frames: int, input_size: int, device: str, batch_size: int = 16) -> dict[str, np.ndarray]:
    """{video: logits (clips, C)} of every clip of each archive."""
    import torch

    from video_similarity.action.clip_archives import read_archive_clips
    from video_similarity.video.clips import to_clip_tensor

    out = {}
    with torch.no_grad():
        for video_id, path in archives.items():
            clips = read_archive_clips(path, clip_frames, input_size)
            out[video_id] = np.concatenate([model(to_clip_tensor(clips[i : i + batch_size]).to(device)).float().cpu().numpy()
                                            for i in range(0, len(clips), batch_size)])
    return out


def optimizer_for(job: ClipClassifierJob, parameters):
    import torch

    if job.optimizer == "sgd":
        return torch.optim.SGD(parameters, lr=job.lr, momentum=job.momentum, weight_decay=job.weight_decay)
    return torch.optim.Adam(parameters, lr=job.lr, weight_decay=job.weight_decay)


def run(job: ClipClassifierJob, context) -> None:
    import torch

    from video_similarity.atomic import atomic_write
    from video_similarity.models.clip_classifier import build_classifier, checkpoint_config, checkpoint_kind
    from video_similarity.training.loop import fit, multistep

    config = dict(job.model)
    torch.manual_seed(job.seed)
    model = build_classifier(config).to(context.device)
    optimizer = optimizer_for(job, model.parameters())
    schedule = multistep(job.milestones, job.gamma, job.epochs) if job.milestones else None
    task = ClipClassificationTask(job, context)
    if context.is_main:
        log.info("%s: %d training clips of %d classes, %d steps/epoch x %d epochs, %d process(es) on %s", job.name, len(task.examples),
                 int(config["num_classes"]), len(task.batches(0)), job.epochs, context.world_size, context.device)
    history = fit(model, optimizer, task, epochs=job.epochs, checkpoint=job.checkpoint, kind=checkpoint_kind(config),
                  config=checkpoint_config(config, model, job.training()), context=context, schedule=schedule, track_as=job.name)
    if not context.is_main:
        return
    model.eval()
    logits = clip_logits(model, {v: job.archives[v] for v in job.eval_ids}, job.clip_frames, job.input_size, context.device)
    ids = list(logits)
    arrays = {"video_ids": np.asarray([v for v in ids for _ in range(len(logits[v]))]),
              "clip_index": np.asarray([k for v in ids for k in range(len(logits[v]))], np.int64),
              "logits": np.concatenate([logits[v] for v in ids]) if ids else np.zeros((0, int(config["num_classes"])), np.float32)}
    atomic_write(job.predictions, lambda fh: np.savez(fh, **arrays))
    atomic_write(job.history, lambda fh: fh.write(json.dumps(history, indent=1).encode()))
