"""Train the transformer video encoder (the notes' Model #2) under torchrun, contrastively.

Input is precomputed frame features (``features`` {video_id: .npy}). Positives
are two random temporal crops of one video (with feature noise and frame
dropout), and, where an annotation names them (``pairs``), a crop of a query
and a crop of its ND/DS video. Video vectors are gathered across ranks and
scored with InfoNCE. A checkpoint (model config, weights, optimiser, epoch) is
written after every epoch; a restarted job resumes from it.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
from torch.distributed.elastic.multiprocessing.errors import record

from video_similarity.distributed import barrier, finish, init_worker
from video_similarity.workers.common import read_spec

log = logging.getLogger("video_similarity.train_video_encoder")


def view(frames: np.ndarray, crop: int, noise: float, frame_drop: float, rng: np.random.Generator) -> np.ndarray:
    """A random temporal crop of up to ``crop`` frames, some frames dropped, Gaussian noise (norm ~``noise``), rows re-normalised."""
    length = min(crop, len(frames))
    start = int(rng.integers(0, len(frames) - length + 1))
    x = frames[start : start + length]
    keep = rng.random(len(x)) >= frame_drop
    if keep.sum() >= 1:
        x = x[keep]
    x = x + rng.normal(0.0, noise / np.sqrt(x.shape[1]), x.shape).astype(np.float32)  # noise vectors of norm ~noise
    return (x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)).astype(np.float32)


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


@record
def main() -> None:
    import torch

    from video_similarity.models.video_transformer import (
        CHECKPOINT_FORMAT, VideoTransformer, contrastive_step, load_video_transformer, save_checkpoint,
    )
    from video_similarity.training.augment import PairSampler

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    spec = read_spec()
    context = init_worker()
    seed = int(spec.get("seed", 0))
    torch.manual_seed(seed)
    features = {v: np.load(p).astype(np.float32) for v, p in spec["features"].items()}
    features = {v: x for v, x in features.items() if len(x)}
    input_dim = next(iter(features.values())).shape[1]
    config = {"input_dim": input_dim, "dim": int(spec.get("dim", 256)), "depth": int(spec.get("depth", 2)),
              "heads": int(spec.get("heads", 4)), "max_len": int(spec.get("max_len", 64)), "dropout": float(spec.get("dropout", 0.1))}
    model = VideoTransformer(**config)
    model.input_mean.copy_(torch.from_numpy(np.concatenate(list(features.values())).mean(axis=0)))
    model = model.to(context.device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=float(spec.get("lr", 3e-4)), weight_decay=float(spec.get("weight_decay", 1e-4)))
    checkpoint = Path(spec["checkpoint"])
    last = checkpoint.with_suffix(".last.pt")
    start_epoch = 0
    if last.is_file():
        state = torch.load(last, map_location=context.device, weights_only=True)
        if state.get("config") == config and state.get("format") == CHECKPOINT_FORMAT:
            model.load_state_dict(state["state_dict"])
            optimizer.load_state_dict(state["extra"]["optimizer"])
            start_epoch = int(state["extra"]["epoch"]) + 1
            if context.is_main:
                log.info("Resuming from %s (epoch %d done)", last, start_epoch)
    trained = model
    if context.world_size > 1:
        trained = torch.nn.parallel.DistributedDataParallel(model, device_ids=[context.local_rank] if context.device.startswith("cuda") else None)

    pairs = [((v, 0), (v, 0)) for v in sorted(features)] + [((a, 0), (b, 0)) for a, b in spec.get("pairs", []) if a in features and b in features]
    batch_size, epochs = int(spec.get("batch_size", 16)), int(spec.get("epochs", 20))
    crop, noise, drop = int(spec.get("crop", 16)), float(spec.get("noise", 0.05)), float(spec.get("frame_drop", 0.1))
    rng = np.random.default_rng(seed * 1000 + context.rank)

    def epoch_batches(epoch: int) -> list:
        batches = list(PairSampler(pairs, seed=seed * 1000 + epoch).batches(batch_size)) or [pairs[:batch_size]]
        batches = [b for b in batches if len(b) >= 2] or batches
        while len(batches) < context.world_size:
            batches += batches
        steps = len(batches) // context.world_size
        # Every rank computes the same batches; step i uses batches[i*W : (i+1)*W]. The views are gathered
        # across ranks each step (all_gather needs equal sizes), so each step's batches are cut to the shortest.
        groups = [batches[i * context.world_size : (i + 1) * context.world_size] for i in range(steps)]
        return [group[context.rank][: min(len(b) for b in group)] for group in groups]

    if context.is_main:
        log.info("Video encoder: %d videos, %d positive pairs (self + annotated), %d steps/epoch x %d epochs, %d process(es) on %s",
                 len(features), len(pairs), len(epoch_batches(0)), epochs, context.world_size, context.device)
    for epoch in range(start_epoch, epochs):
        trained.train()
        started, total, steps = time.perf_counter(), 0.0, 0
        for batch in epoch_batches(epoch):
            a, a_mask = pad([view(features[x[0]], crop, noise, drop, rng) for x, _ in batch])
            b, b_mask = pad([view(features[y[0]], crop, noise, drop, rng) for _, y in batch])
            loss = contrastive_step(trained, a.to(context.device), a_mask.to(context.device), b.to(context.device), b_mask.to(context.device),
                                    tau=float(spec.get("tau", 0.07)), gather=context.world_size > 1)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total, steps = total + loss.item(), steps + 1
        if context.is_main:
            log.info("video encoder epoch %d/%d: loss %.4f (%.1fs)", epoch + 1, epochs, total / max(1, steps), time.perf_counter() - started)
            save_checkpoint(model, last, config, extra={"epoch": epoch, "optimizer": optimizer.state_dict()})
        barrier(context)
    if context.is_main:
        if last.is_file():
            final = load_video_transformer(last)
            save_checkpoint(final, checkpoint, config, extra={"epochs": epochs})
        else:
            save_checkpoint(model, checkpoint, config, extra={"epochs": epochs})
    finish(context)


if __name__ == "__main__":
    main()
