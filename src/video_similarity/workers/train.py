"""Train one descriptor model the rank-1 way, under torchrun (DDP on gloo or nccl).

Embeddings of both sides of every positive pair are L2-normalised, gathered
across ranks, and scored with InfoNCE over the 2B x 2B global batch (tau 0.05)
plus a KoLeo term that spreads descriptors. Positives are aligned seconds of
ground-truth segments (query frame vs reference frame) and, for every frame,
two augmentations of itself (one mild, one hard). A checkpoint is written after
every epoch; a job restarted with the same spec resumes from it. Rank 0 exports
the trained model to TorchScript.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
from torch.distributed.elastic.multiprocessing.errors import record

from video_similarity.distributed import barrier, finish, init_worker
from video_similarity.frames.archive import FrameArchive
from video_similarity.workers.common import prepare, read_spec

log = logging.getLogger("video_similarity.train")


SYNTHETIC = "~synthetic"


class FrameCache:
    """Decoded training frames, kept in memory (the demo's fit easily; real runs use a sample).

    Ids starting with ``~synthetic`` are procedurally rendered scenes (see
    ``demo.scenes``): an unlimited supply of distinct images for self-pairs.
    """

    def __init__(self, archives: dict[str, str], size: int, seed: int = 0):
        self.archives, self.size, self.seed, self.frames = archives, size, seed, {}

    def video(self, video_id: str) -> list[np.ndarray]:
        if video_id.startswith(SYNTHETIC) and video_id not in self.frames:
            from video_similarity.demo.scenes import random_shapes_scene

            rng = np.random.default_rng((self.seed, int(video_id[len(SYNTHETIC):])))
            self.frames[video_id] = [random_shapes_scene(rng).render(float(rng.uniform(0, 10)), (2 * self.size, 2 * self.size))]
        if video_id not in self.frames:
            with FrameArchive(self.archives[video_id]) as archive:
                self.frames[video_id] = [prepare(f, 2 * self.size) for f in archive.frames()]
        return self.frames[video_id]

    def __call__(self, key) -> np.ndarray:
        video_id, index = key
        frames = self.video(video_id)
        return frames[min(index, len(frames) - 1)]


def build_pairs(spec: dict, lengths: dict[str, int]) -> list:
    """Positive pairs ((video, frame), (video, frame)): aligned ground-truth seconds, and every frame with itself."""
    from video_similarity.training.augment import ground_truth_pairs, self_pairs

    gt = pd.DataFrame(spec["ground_truth"], columns=["query_id", "ref_id", "query_start", "query_end", "ref_start", "ref_end"])
    pairs = ground_truth_pairs(gt, lengths, lengths) if len(gt) else []
    synthetic = {f"{SYNTHETIC}{i}": 1 for i in range(int(spec.get("synthetic_pairs", 0)))}
    return pairs + self_pairs({v: lengths[v] for v in spec["self_pair_videos"] if v in lengths}) + self_pairs(synthetic)


@record
def main() -> None:
    import torch

    from video_similarity.models.descriptor import DescriptorModel, export_torchscript, load_checkpoint, save_checkpoint
    from video_similarity.training.augment import FrameAugmenter, PairSampler, to_tensor
    from video_similarity.training.losses import gather_embeddings, info_nce, koleo

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    spec = read_spec()
    context = init_worker()
    seed = int(spec["seed"])
    torch.manual_seed(seed)
    size = int(spec["image_size"])
    checkpoint = Path(spec["checkpoint"])

    model = DescriptorModel(spec["backbone"], dim=int(spec["dim"]), weights_path=spec.get("weights_path")).to(context.device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=float(spec["lr"]), weight_decay=float(spec["weight_decay"]))
    start_epoch = 0
    if checkpoint.is_file():
        state = load_checkpoint(checkpoint, model, optimizer)
        start_epoch = int(state["epoch"]) + 1
        if context.is_main:
            log.info("Resuming %s from %s (epoch %d done)", spec["name"], checkpoint, start_epoch)
    trained = model
    if context.world_size > 1:
        trained = torch.nn.parallel.DistributedDataParallel(model, device_ids=[context.local_rank] if context.device.startswith("cuda") else None)

    cache = FrameCache(spec["archives"], size, seed)
    lengths = {}
    for video_id, path in spec["archives"].items():
        with FrameArchive(path) as archive:
            lengths[video_id] = len(archive)
    pairs = build_pairs(spec, lengths)
    batch = int(spec["batch_size"])

    def epoch_batches(epoch: int) -> list:
        """The same batches on every rank (same seed); each rank takes its share, equal step counts."""
        batches = list(PairSampler(pairs, seed=seed * 1000 + epoch).batches(batch, drop_last=True)) or [pairs[:batch]]
        while len(batches) < context.world_size:  # tiny data: every rank still needs a step
            batches += batches
        steps = len(batches) // context.world_size
        return batches[context.rank :: context.world_size][:steps]

    steps_per_epoch = len(epoch_batches(0))
    mild = FrameAugmenter(size, "mild", seed=seed * 1000 + context.rank)
    hard = FrameAugmenter(size, "hard", seed=seed * 1000 + 500 + context.rank)
    if context.is_main:
        log.info("%s: %s, %d positive pairs, %d steps/epoch x %d epochs, %d process(es) on %s",
                 spec["name"], spec["backbone"], len(pairs), steps_per_epoch, int(spec["epochs"]), context.world_size, context.device)

    for epoch in range(start_epoch, int(spec["epochs"])):
        mine = epoch_batches(epoch)
        trained.train()
        started, total = time.perf_counter(), 0.0
        for chunk in mine:
            others = [cache(chunk[(j + 1) % len(chunk)][0]) for j in range(len(chunk))]
            left = [mild(cache(a), [o]) for (a, _), o in zip(chunk, others)]
            # a frame paired with itself gets one hard view; a copied pair is already edited
            right = [(hard if a == b else mild)(cache(b), [o]) for (a, b), o in zip(chunk, others)]
            embeddings = trained(to_tensor(left + right).to(context.device))
            left_emb = gather_embeddings(embeddings[: len(chunk)])
            right_emb = gather_embeddings(embeddings[len(chunk) :])
            loss = info_nce(left_emb, right_emb, tau=float(spec["tau"]))
            loss = loss + float(spec["koleo_weight"]) * koleo(torch.cat([left_emb, right_emb]))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.item()
        if context.is_main:
            log.info("%s epoch %d/%d: loss %.4f (%.1fs)", spec["name"], epoch + 1, int(spec["epochs"]), total / max(1, len(mine)), time.perf_counter() - started)
            save_checkpoint(checkpoint, model, optimizer, epoch, {"spec": {k: v for k, v in spec.items() if k not in ("archives", "ground_truth", "self_pair_videos")}})
        barrier(context)
    if context.is_main:
        model.eval()
        export_torchscript(model.cpu(), spec["torchscript"], example=torch.zeros(1, 3, size, size))
    finish(context)


if __name__ == "__main__":
    main()
