"""Task ``video_transformer`` (the notes' Model #2): a transformer over another encoder's frame features.

Positives are two random temporal crops of one video (feature noise, frame
dropout) and annotated pairs (a query and its ND / DS video); video vectors
are gathered across ranks and scored with InfoNCE.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from video_similarity.training.loop import rank_share
from video_similarity.training.tasks import TRAIN_WORKER

log = logging.getLogger("video_similarity.train")


@dataclass(frozen=True)
class VideoTransformerJob:
    """Written by the retrieval pipeline's ``train_video_encoder``, read by the training entry."""

    WORKER: ClassVar[str] = TRAIN_WORKER

    features: dict[str, str]  # {video_id: the base encoder's item}
    pairs: list[list[str]]  # annotated positive pairs [a, b]
    checkpoint: str
    dim: int
    depth: int
    heads: int
    max_len: int
    dropout: float
    epochs: int
    batch_size: int  # videos per step (their views are the negatives)
    lr: float
    weight_decay: float
    tau: float
    crop: int  # frames per view
    noise: float  # norm of the Gaussian noise added to each unit frame feature
    frame_drop: float
    seed: int


def view(frames: np.ndarray, crop: int, noise: float, frame_drop: float, rng: np.random.Generator) -> np.ndarray:
    """A random temporal crop of up to ``crop`` frames, some frames dropped, Gaussian noise (norm ~``noise``), rows re-normalised."""
    from video_similarity.descriptors import l2_normalize

    length = min(crop, len(frames))
    start = int(rng.integers(0, len(frames) - length + 1))
    x = frames[start : start + length]
    keep = rng.random(len(x)) >= frame_drop
    if keep.sum() >= 1:
        x = x[keep]
    x = x + rng.normal(0.0, noise / np.sqrt(x.shape[1]), x.shape).astype(np.float32)  # noise vectors of norm ~noise
    return l2_normalize(x)


def pad(views: list[np.ndarray]):
    """Stack variable-length views into (B, T, D) with a padding mask (True = padded)."""
    import torch

    longest = max(len(v) for v in views)
    x = np.zeros((len(views), longest, views[0].shape[1]), np.float32)
    mask = np.ones((len(views), longest), bool)
    for i, v in enumerate(views):
        x[i, : len(v)] = v
        mask[i, : len(v)] = False
    return torch.from_numpy(x), torch.from_numpy(mask)


class VideoTransformerTask:
    """InfoNCE between video vectors of two views of each positive pair of videos."""

    name = "video encoder"

    def __init__(self, job: VideoTransformerJob, features: dict[str, np.ndarray], context):
        self.job, self.features, self.context = job, features, context
        self.pairs = [((v, 0), (v, 0)) for v in sorted(features)] + [((a, 0), (b, 0)) for a, b in job.pairs if a in features and b in features]
        self.rng = np.random.default_rng(job.seed * 1000 + context.rank)

    def batches(self, epoch: int) -> list:
        from video_similarity.training.augment import PairSampler

        size = self.job.batch_size
        batches = list(PairSampler(self.pairs, seed=self.job.seed * 1000 + epoch).batches(size)) or [self.pairs[:size]]
        # the views are gathered across ranks each step (all_gather needs equal sizes)
        return rank_share([b for b in batches if len(b) >= 2] or batches, self.context, equal_sizes=True)

    def loss(self, trained, batch):
        from video_similarity.models.video_transformer import contrastive_step

        job, device = self.job, self.context.device
        a, a_mask = pad([view(self.features[x[0]], job.crop, job.noise, job.frame_drop, self.rng) for x, _ in batch])
        b, b_mask = pad([view(self.features[y[0]], job.crop, job.noise, job.frame_drop, self.rng) for _, y in batch])
        return contrastive_step(trained, a.to(device), a_mask.to(device), b.to(device), b_mask.to(device),
                                tau=job.tau, gather=self.context.world_size > 1)


def run(job: VideoTransformerJob, context) -> None:
    import torch

    from video_similarity.models.video_transformer import CHECKPOINT_KIND, VideoTransformer
    from video_similarity.training.loop import fit

    torch.manual_seed(job.seed)
    features = {v: np.load(p)["features"].astype(np.float32) for v, p in job.features.items()}
    features = {v: x for v, x in features.items() if len(x)}
    input_dim = next(iter(features.values())).shape[1]
    model = VideoTransformer(input_dim=input_dim, dim=job.dim, depth=job.depth, heads=job.heads, max_len=job.max_len, dropout=job.dropout)
    model.input_mean.copy_(torch.from_numpy(np.concatenate(list(features.values())).mean(axis=0)))
    model = model.to(context.device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=job.lr, weight_decay=job.weight_decay)
    task = VideoTransformerTask(job, features, context)
    if context.is_main:
        log.info("Video encoder: %d videos, %d positive pairs (self + annotated), %d steps/epoch x %d epochs, %d process(es) on %s",
                 len(features), len(task.pairs), len(task.batches(0)), job.epochs, context.world_size, context.device)
    fit(model, optimizer, task, epochs=job.epochs, checkpoint=job.checkpoint, kind=CHECKPOINT_KIND, config=model.config, context=context)
