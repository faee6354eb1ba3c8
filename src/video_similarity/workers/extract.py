"""Per-second frame embeddings of many videos with one or more models, sharded by rank.

Spec: ``models`` {name: {"torchscript": path} or {"backbone": name, "dim": d, "seed": s}},
``archives`` {video_id: frame archive path}, ``output_dir``, ``image_size``,
``batch_size``, ``merged_dir``. Each rank writes ``output_dir/<model>/<video_id>.npy``
(float32, one row per archived frame; files newer than their archive are kept, so a
job resumes; a model's name must change whenever its weights or input size do);
rank 0 then merges each model into ``merged_dir/<model>.npz`` (the official
format: video_ids, timestamps, features) in the spec's video order.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
from torch.distributed.elastic.multiprocessing.errors import record

from video_similarity.descriptors import Descriptors, save_descriptors
from video_similarity.distributed import barrier, finish, init_worker, shard
from video_similarity.frames.archive import FrameArchive
from video_similarity.workers.common import prepare, read_spec, save_array

log = logging.getLogger("video_similarity.extract")


def is_stale(target: Path, archive: str) -> bool:
    """True when the embedding file is missing or older than its frame archive (re-preprocessed)."""
    return not target.is_file() or target.stat().st_mtime_ns < Path(archive).stat().st_mtime_ns


def build_model(entry: dict, device: str):
    import torch

    if "torchscript" in entry:
        from video_similarity.models.descriptor import load_torchscript

        model = load_torchscript(entry["torchscript"], map_location=device)
    else:  # an untrained (or locally initialised) descriptor model, e.g. a baseline
        from video_similarity.models.descriptor import DescriptorModel

        torch.manual_seed(int(entry.get("seed", 0)))
        model = DescriptorModel(entry["backbone"], dim=int(entry.get("dim", 256)), weights_path=entry.get("weights_path"))
    return model.to(device).eval()


def embed_archive(model, archive: FrameArchive, size: int, batch_size: int, device: str) -> np.ndarray:
    import torch

    from video_similarity.training.augment import to_tensor

    out = []
    frames = [prepare(f, size) for f in archive.frames()]
    with torch.no_grad():
        for start in range(0, len(frames), batch_size):
            batch = to_tensor(frames[start : start + batch_size]).to(device)
            out.append(model(batch).float().cpu().numpy())
    return np.concatenate(out).astype(np.float32)


def merge(output_dir: Path, merged_dir: Path, model_name: str, archives: dict[str, str]) -> None:
    ids, stamps, feats = [], [], []
    for video_id, path in archives.items():
        features = np.load(output_dir / model_name / f"{video_id}.npy")
        with FrameArchive(path) as archive:
            timestamps = archive.timestamps
        ids += [video_id] * len(features)
        stamps.append(timestamps)
        feats.append(features)
    merged = Descriptors(np.asarray(ids), np.concatenate(stamps), np.concatenate(feats))
    save_descriptors(merged_dir / f"{model_name}.npz", merged)


@record
def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    spec = read_spec()
    context = init_worker()
    output_dir = Path(spec["output_dir"])
    archives: dict[str, str] = spec["archives"]
    mine = shard(list(archives), context)
    for name, entry in spec["models"].items():
        todo = [v for v in mine if is_stale(output_dir / name / f"{v}.npy", archives[v])]
        if context.is_main:
            log.info("%s: %d of this rank's %d videos to embed (%d process(es))", name, len(todo), len(mine), context.world_size)
        if not todo:
            continue
        model = build_model(entry, context.device)
        started, every = time.perf_counter(), max(1, len(todo) // 10)
        for done, video_id in enumerate(todo, start=1):
            with FrameArchive(archives[video_id]) as archive:
                features = embed_archive(model, archive, int(spec["image_size"]), int(spec["batch_size"]), context.device)
            save_array(output_dir / name / f"{video_id}.npy", features)
            if context.is_main and (done % every == 0 or done == len(todo)):
                log.info("%s: %d/%d videos (%.1fs)", name, done, len(todo), time.perf_counter() - started)
    barrier(context)
    if context.is_main:
        for name in spec["models"]:
            merge(output_dir, Path(spec["merged_dir"]), name, archives)
    finish(context)


if __name__ == "__main__":
    main()
