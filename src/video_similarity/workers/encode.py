"""Frame and clip features of many videos with the retrieval encoder zoo, sharded by rank.

Spec: ``encoders`` {name: {builder, weights_path, seed, whitening_path, options}},
``videos`` {video_id: {"archive": 1-fps frame archive, "video": source file}},
``output_dir``, ``batch_size``; optional ``whitening_sample`` {encoder: {"max_frames": n,
"output_dir": dir}} switches the job to sampling unwhitened regional vectors
for fitting PCA whitening.

Each rank writes ``output_dir/<encoder>/<video_id>.npy`` (float32, one L2 row per
1-fps frame or per clip); existing files are kept, so a job resumes (the node
clears a folder whose encoder settings changed). A video that fails to decode
is recorded in ``output_dir/<encoder>/failed_rank<r>.json`` and skipped.
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path

import numpy as np
from torch.distributed.elastic.multiprocessing.errors import record

from video_similarity.distributed import barrier, finish, init_worker, shard
from video_similarity.frames.archive import FrameArchive
from video_similarity.workers.common import prepare, read_spec, save_array

log = logging.getLogger("video_similarity.encode")

#: Clip models that read 1-fps frame archives (3D-CSL's clips are 8 frames at 1 fps).
ARCHIVE_CLIPS = ("csl3d_base", "csl3d_small")


def feature_path(output_dir: Path, encoder: str, video_id: str) -> Path:
    return Path(output_dir) / encoder / f"{video_id}.npy"


def archive_frames(path: str, size: int) -> np.ndarray:
    with FrameArchive(path) as archive:
        return np.stack([prepare(f, size) for f in archive.frames()])


def _batched(model, batches, device: str) -> np.ndarray:
    import torch

    out = []
    with torch.no_grad():
        for batch in batches:
            out.append(model(batch.to(device)).float().cpu().numpy())
    return np.concatenate(out).astype(np.float32)


def encode_video(model, builder: str, video: dict, batch_size: int, device: str) -> np.ndarray:
    """(n, dim) features of one video: per 1-fps frame, per clip, or per PDQ hash."""
    from video_similarity.training.augment import to_tensor
    from video_similarity.video.clips import clips_from_frames, read_clips, to_clip_tensor

    if builder == "pdq":
        from video_similarity.baselines.pdq import PDQ_DIM, pdq_features

        with FrameArchive(video["archive"]) as archive:
            return pdq_features(archive.frames()) / math.sqrt(PDQ_DIM)
    size = int(model.input_size)
    if model.kind == "frames":
        frames = archive_frames(video["archive"], size)
        return _batched(model, (to_tensor(frames[i : i + batch_size]) for i in range(0, len(frames), batch_size)), device)
    if builder in ARCHIVE_CLIPS:
        clips = clips_from_frames(archive_frames(video["archive"], size), int(model.clip_frames))
        return _batched(model, (to_clip_tensor(clips[i : i + batch_size]) for i in range(0, len(clips), batch_size)), device)

    def clip_batches():
        pending = []
        for clip in read_clips(video["video"], int(model.clip_frames), int(model.frame_stride), size):
            pending.append(clip)
            if len(pending) == batch_size:
                yield to_clip_tensor(np.stack(pending))
                pending = []
        if pending:
            yield to_clip_tensor(np.stack(pending))

    return _batched(model, clip_batches(), device)


def build(entry: dict, device: str):
    if entry["builder"] == "pdq":
        return None
    from video_similarity.models.encoders import build_encoder

    model = build_encoder(entry["builder"], entry.get("weights_path"), int(entry.get("seed", 0)), entry.get("whitening_path"), **entry.get("options", {}))
    return model.to(device)


def sample_regions(model, archive: str, n_frames: int, device: str) -> np.ndarray:
    """Unwhitened regional vectors of ``n_frames`` evenly spaced frames: R-MAC (n*9, 3840), iMAC (n, 3840)."""
    import torch

    from video_similarity.training.augment import to_tensor

    frames = archive_frames(archive, int(model.input_size))
    picks = np.unique(np.linspace(0, len(frames) - 1, num=min(n_frames, len(frames))).round().astype(int))
    with torch.no_grad():
        regions = model.regions(to_tensor(frames[picks]).to(device)).float().cpu().numpy()
    return regions.reshape(-1, regions.shape[-1])


def run_whitening_sample(spec: dict, context) -> None:
    videos = spec["videos"]
    mine = shard(sorted(videos), context)
    for name, sample in spec["whitening_sample"].items():
        model = build(spec["encoders"][name], context.device)
        per_video = max(1, math.ceil(int(sample["max_frames"]) / max(1, len(videos))))
        vectors = [sample_regions(model, videos[v]["archive"], per_video, context.device) for v in mine]
        out = Path(sample["output_dir"])
        out.mkdir(parents=True, exist_ok=True)
        dim = vectors[0].shape[1] if vectors else 0
        save_array(out / f"rank{context.rank}.npy", np.concatenate(vectors) if vectors else np.zeros((0, dim), np.float32))


def run_features(spec: dict, context) -> None:
    from tqdm.auto import tqdm

    output_dir = Path(spec["output_dir"])
    videos = spec["videos"]
    mine = shard(sorted(videos), context)
    for name, entry in spec["encoders"].items():
        todo = [v for v in mine if not feature_path(output_dir, name, v).is_file()]
        if context.is_main:
            log.info("%s: %d of this rank's %d videos to encode (%d process(es))", name, len(todo), len(mine), context.world_size)
        if not todo:
            continue
        model = build(entry, context.device)
        failed, started = {}, time.perf_counter()
        for video_id in tqdm(todo, desc=name, unit="video", disable=not context.is_main, mininterval=5):
            try:
                features = encode_video(model, entry["builder"], videos[video_id], int(spec.get("batch_size", 16)), context.device)
            except Exception as error:  # one bad video must not stop thousands  # noqa: BLE001
                failed[video_id] = f"{type(error).__name__}: {error}"
                log.warning("%s: skipped %s: %s", name, video_id, failed[video_id])
                continue
            target = feature_path(output_dir, name, video_id)
            target.parent.mkdir(parents=True, exist_ok=True)
            save_array(target, features.astype(np.float32))
        if failed:
            (output_dir / name / f"failed_rank{context.rank}.json").write_text(json.dumps(failed, indent=1))
        if context.is_main:
            log.info("%s: done in %.1fs", name, time.perf_counter() - started)


@record
def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    spec = read_spec()
    context = init_worker()
    if spec.get("whitening_sample"):
        run_whitening_sample(spec, context)
    else:
        run_features(spec, context)
    barrier(context)
    finish(context)


if __name__ == "__main__":
    main()
