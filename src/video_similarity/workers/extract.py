"""The one extraction worker: per-video features of any registered encoders, sharded by rank.

Spec (written by :func:`video_similarity.extraction.extract`):

* ``encoders`` {name: {builder, weights_path, seed, whitening_path, options[, input_features]}}
* ``videos`` {video_id: {"archive": 1-fps frame archive, "video": source file}}, in merge order
* ``cache_dir``: each encoder's items go to ``cache_dir/<name>/<video_id>.npz``
  (``features`` float32, one unit row per frame, clip or feature row; ``timestamps``;
  ``key``: the input it was made from), a stamped folder of the one cache rule
* ``batch_size`` (the node merges the items into official descriptor files afterwards)
* optional ``sample_regions`` {name: {"max_frames": n, "output_dir": dir}}: instead of
  features, unwhitened R-MAC / iMAC regions of evenly spaced frames (to fit whitening)

An item whose input key matches is kept (resume); a video that fails is
recorded in ``failed_rank<r>.json`` of its encoder's folder and skipped.
Encoders of kind ``features`` (the video transformer) read another encoder's
items (``input_features``: that encoder's folder) instead of frames.
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path

import numpy as np
from torch.distributed.elastic.multiprocessing.errors import record

from video_similarity.atomic import atomic_write
from video_similarity.cache import input_key, item_is_current, read_item, write_item
from video_similarity.distributed import barrier, finish, init_worker, shard
from video_similarity.frames.archive import FrameArchive
from video_similarity.workers.common import prepare, read_spec

log = logging.getLogger("video_similarity.extract")


def _frames(model, archive_path: str) -> tuple[np.ndarray | list, np.ndarray]:
    """The archive's frames as the encoder takes them, and their VSC timestamps (N, 2)."""
    size, short = getattr(model, "input_size", None), getattr(model, "short_side", None)
    with FrameArchive(archive_path) as archive:
        return [prepare(f, size, short) for f in archive.frames()], archive.timestamps


def _batched(model, batches, device: str) -> np.ndarray:
    import torch

    out = []
    with torch.no_grad():
        for batch in batches:
            out.append(model(batch.to(device)).float().cpu().numpy())
    return np.concatenate(out).astype(np.float32)


def encode_video(model, entry: dict, video: dict, batch_size: int, device: str) -> tuple[np.ndarray, np.ndarray]:
    """(features (n, dim), timestamps (n, 2)) of one video: per 1-fps frame, per clip, or per input row."""
    from video_similarity.training.augment import to_tensor
    from video_similarity.video.clips import clips_from_frames, read_clips, to_clip_tensor

    if model.kind == "features":
        from video_similarity.models.video_transformer import encode_video as transform

        base = read_item(entry["input_features"], video["id"])
        if base is None:
            raise ValueError(f"no {Path(entry['input_features']).name} features to transform")
        return transform(model, base["features"], device), base["timestamps"]
    if model.kind == "frames":
        frames, stamps = _frames(model, video["archive"])
        return _batched(model, (to_tensor(frames[i : i + batch_size]) for i in range(0, len(frames), batch_size)), device), stamps
    if model.clip_source == "archive":
        frames, stamps = _frames(model, video["archive"])
        n, t = len(frames), int(model.clip_frames)
        clips = clips_from_frames(np.stack(frames), t)
        spans = np.asarray([[stamps[i][0], stamps[min(i + t, n) - 1][1]] for i in range(0, n, t)])
        return _batched(model, (to_clip_tensor(clips[i : i + batch_size]) for i in range(0, len(clips), batch_size)), device), spans

    def clip_batches():
        pending = []
        for clip in read_clips(video["video"], int(model.clip_frames), int(model.frame_stride), int(model.input_size)):
            pending.append(clip)
            if len(pending) == batch_size:
                yield to_clip_tensor(np.stack(pending))
                pending = []
        if pending:
            yield to_clip_tensor(np.stack(pending))

    features = _batched(model, clip_batches(), device)
    return features, np.full((len(features), 2), np.nan)  # clip times at the video's own rate are not tracked


def item_input_key(model, entry: dict, video: dict) -> str:
    """The one cache rule's key of one video's item: what the encoder reads."""
    if model.kind == "features":
        return input_key(Path(entry["input_features"]) / f"{video['id']}.npz")
    if model.kind == "clips" and model.clip_source == "video":
        return input_key(video["archive"], video["video"])
    return input_key(video["archive"])


def sample_regions(model, archive: str, n_frames: int, device: str) -> np.ndarray:
    """Unwhitened regional vectors of ``n_frames`` evenly spaced frames: R-MAC (n*9, 3840), iMAC (n, 3840)."""
    import torch

    from video_similarity.training.augment import to_tensor

    frames, _ = _frames(model, archive)
    picks = np.unique(np.linspace(0, len(frames) - 1, num=min(n_frames, len(frames))).round().astype(int))
    with torch.no_grad():
        regions = model.regions(to_tensor([frames[i] for i in picks]).to(device)).float().cpu().numpy()
    return regions.reshape(-1, regions.shape[-1])


def run_region_sample(spec: dict, context) -> None:
    from video_similarity.models.registry import build_from_entry

    videos = spec["videos"]
    mine = shard(sorted(videos), context)
    for name, sample in spec["sample_regions"].items():
        model = build_from_entry(spec["encoders"][name], context.device)
        per_video = max(1, math.ceil(int(sample["max_frames"]) / max(1, len(videos))))
        vectors = [sample_regions(model, videos[v]["archive"], per_video, context.device) for v in mine]
        out = Path(sample["output_dir"])
        dim = vectors[0].shape[1] if vectors else 0
        array = np.concatenate(vectors) if vectors else np.zeros((0, dim), np.float32)
        atomic_write(out / f"rank{context.rank}.npy", lambda handle: np.save(handle, array))


#: ``<encoder folder>/inflight_rank<r>.txt``: the video a rank is encoding, left behind when the process dies.
INFLIGHT = "inflight_rank"


def run_features(spec: dict, context) -> None:
    from tqdm.auto import tqdm

    from video_similarity.models.registry import build_from_entry

    cache_dir = Path(spec["cache_dir"])
    videos = {v: {**info, "id": v} for v, info in spec["videos"].items()}
    mine = shard(sorted(videos), context)
    for name, entry in spec["encoders"].items():
        folder = cache_dir / name
        model = None
        failed, started, done = {}, time.perf_counter(), 0
        skip = set((spec.get("skip") or {}).get(name, ()))  # videos that killed an earlier job (extraction.extract)
        note = folder / f"{INFLIGHT}{context.rank}.txt"  # names the video if this process dies on it
        for video_id in tqdm(mine, desc=name, unit="video", disable=not context.is_main, mininterval=5):
            if video_id in skip:
                continue
            video = videos[video_id]
            try:
                if model is None:
                    model = build_from_entry(entry, context.device)
                key = item_input_key(model, entry, video)
                if item_is_current(folder, video_id, key):
                    continue
                note.write_text(video_id)  # only around the encoding: a death here is this video's doing
                try:
                    features, timestamps = encode_video(model, entry, video, int(spec["batch_size"]), context.device)
                finally:
                    note.unlink(missing_ok=True)
            except Exception as error:  # one bad video must not stop thousands  # noqa: BLE001
                if model is None:
                    raise
                failed[video_id] = f"{type(error).__name__}: {error}"
                log.warning("%s: skipped %s: %s", name, video_id, failed[video_id])
                continue
            write_item(folder, video_id, key, features=features.astype(np.float32), timestamps=np.asarray(timestamps, np.float64))
            done += 1
        if failed:
            text = json.dumps(failed, indent=1).encode()
            atomic_write(folder / f"failed_rank{context.rank}.json", lambda handle: handle.write(text))
        if context.is_main:
            log.info("%s: %d of this rank's %d videos encoded, the rest current (%d process(es), %.1fs)",
                     name, done, len(mine), context.world_size, time.perf_counter() - started)


@record
def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    spec = read_spec()
    context = init_worker()
    if spec.get("sample_regions"):
        run_region_sample(spec, context)
    else:
        run_features(spec, context)
    barrier(context)
    finish(context)


if __name__ == "__main__":
    main()
