"""Task ``descriptor``: a VSC ensemble member trained with InfoNCE + KoLeo over augmented frame pairs.

Embeddings of both sides of every positive pair are L2-normalised, gathered
across ranks and scored with InfoNCE over the 2B x 2B global batch (tau) plus
KoLeo. Positives are aligned seconds of ground-truth segments and every frame
with itself (one mild, one hard augmentation), rendered scenes included. An
optional teacher (its rows of the clean frames) adds relational distillation.
Rank 0 exports the trained model to TorchScript.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd

from video_similarity.training.frames import ArchiveFrames, RenderedScenes, TrainingFrames
from video_similarity.training.loop import rank_share
from video_similarity.training.tasks import TRAIN_WORKER

log = logging.getLogger("video_similarity.train")

GROUND_TRUTH_COLUMNS = ["query_id", "ref_id", "query_start", "query_end", "ref_start", "ref_end"]


@dataclass(frozen=True)
class Teacher:
    """A teacher's rows of every clean training frame (extraction items) and the weight of its term."""

    items: dict[str, str]
    weight: float


@dataclass(frozen=True)
class DescriptorJob:
    """One member's training: written by ``train_ensemble``, read by the training entry."""

    WORKER: ClassVar[str] = TRAIN_WORKER

    name: str
    backbone: str
    dim: int
    image_size: int
    weights_path: str | None  # starting weights (a local file), or None: random init
    epochs: int
    batch_size: int  # positive pairs per process and step
    lr: float
    weight_decay: float
    tau: float
    koleo_weight: float
    seed: int
    archives: dict[str, str]  # {video_id: frame archive}
    ground_truth: list[list]  # rows of GROUND_TRUTH_COLUMNS: aligned seconds are positives
    self_pair_videos: list[str]  # videos whose every frame is paired with itself
    synthetic_pairs: int  # rendered scenes added as self-pairs
    teacher: Teacher | None
    checkpoint: str
    torchscript: str


def build_pairs(job: DescriptorJob, frames: ArchiveFrames, rendered: RenderedScenes) -> list:
    """Positive pairs ((video, frame), (video, frame)): aligned ground-truth seconds, every frame with itself, rendered scenes."""
    from video_similarity.training.augment import ground_truth_pairs, self_pairs

    lengths = frames.lengths
    gt = pd.DataFrame(job.ground_truth, columns=GROUND_TRUTH_COLUMNS)
    pairs = ground_truth_pairs(gt, lengths, lengths) if len(gt) else []
    return pairs + self_pairs({v: lengths[v] for v in job.self_pair_videos if v in lengths}) + self_pairs(rendered.lengths)


class DescriptorTask:
    """InfoNCE + KoLeo over augmented positive pairs of frames."""

    def __init__(self, job: DescriptorJob, context):
        from video_similarity.training.augment import FrameAugmenter

        self.job, self.context, self.name = job, context, job.name
        archives = ArchiveFrames(job.archives, job.image_size)
        rendered = RenderedScenes(job.synthetic_pairs, job.image_size, job.seed)
        self.frames = TrainingFrames(archives, rendered)
        self.pairs = build_pairs(job, archives, rendered)
        # the teacher's rows of every clean training frame, computed once by the extraction worker
        self.teacher_weight = job.teacher.weight if job.teacher else 0.0
        self.teacher = {v: np.load(p)["features"] for v, p in (job.teacher.items if job.teacher else {}).items()}
        self.mild = FrameAugmenter(job.image_size, "mild", seed=job.seed * 1000 + context.rank)
        self.hard = FrameAugmenter(job.image_size, "hard", seed=job.seed * 1000 + 500 + context.rank)

    def batches(self, epoch: int) -> list:
        from video_similarity.training.augment import PairSampler

        size = self.job.batch_size
        batches = list(PairSampler(self.pairs, seed=self.job.seed * 1000 + epoch).batches(size, drop_last=True))
        return rank_share(batches or [self.pairs[:size]], self.context)

    def loss(self, trained, chunk):
        import torch

        from video_similarity.training.augment import to_tensor
        from video_similarity.training.losses import gather_embeddings, info_nce, koleo

        frames = self.frames
        others = [frames(chunk[(j + 1) % len(chunk)][0]) for j in range(len(chunk))]
        left = [self.mild(frames(a), [o]) for (a, _), o in zip(chunk, others)]
        # a frame paired with itself gets one hard view; a copied pair is already edited
        right = [(self.hard if a == b else self.mild)(frames(b), [o]) for (a, b), o in zip(chunk, others)]
        embeddings = trained(to_tensor(left + right).to(self.context.device))
        left_emb = gather_embeddings(embeddings[: len(chunk)])
        right_emb = gather_embeddings(embeddings[len(chunk):])
        loss = info_nce(left_emb, right_emb, tau=self.job.tau)
        loss = loss + self.job.koleo_weight * koleo(torch.cat([left_emb, right_emb]))
        if self.teacher_weight > 0:
            loss = loss + self.teacher_weight * self._teacher_term(embeddings[: len(chunk)], chunk)
        return loss

    def _teacher_term(self, student, chunk):
        """Relational distillation of the (augmented) left views towards the teacher's rows of the clean frames."""
        import torch

        from video_similarity.training.losses import relational_distillation

        rows = [i for i, ((video, _), _) in enumerate(chunk) if video in self.teacher]
        if len(rows) < 2:
            return student.sum() * 0.0
        targets = [self.teacher[chunk[i][0][0]][min(chunk[i][0][1], len(self.teacher[chunk[i][0][0]]) - 1)] for i in rows]
        teacher = torch.from_numpy(np.stack(targets)).to(student.device)
        return relational_distillation(student[rows], teacher)


def run(job: DescriptorJob, context) -> None:
    """Train (resuming a checkpoint of the same config), then export TorchScript on rank 0."""
    import torch

    from video_similarity.models.checkpoint import export_torchscript
    from video_similarity.models.descriptor import CHECKPOINT_KIND, DescriptorModel
    from video_similarity.training.loop import fit

    torch.manual_seed(job.seed)
    size = job.image_size
    model = DescriptorModel(job.backbone, dim=job.dim, weights_path=job.weights_path, input_size=size).to(context.device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=job.lr, weight_decay=job.weight_decay)
    task = DescriptorTask(job, context)
    if context.is_main:
        log.info("%s: %s, %d positive pairs, %d steps/epoch x %d epochs, %d process(es) on %s",
                 job.name, job.backbone, len(task.pairs), len(task.batches(0)), job.epochs, context.world_size, context.device)
    # config rebuilds the model; where its weights started is the member folder's stamp (train_ensemble)
    fit(model, optimizer, task, epochs=job.epochs, checkpoint=job.checkpoint, kind=CHECKPOINT_KIND, config=model.config, context=context)
    if context.is_main:
        model.eval()
        export_torchscript(model.cpu(), job.torchscript, example=torch.zeros(1, 3, size, size))
