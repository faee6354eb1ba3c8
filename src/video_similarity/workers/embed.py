"""The one extraction worker: per-video features of any registered encoders, sharded by rank.

Its jobs (:mod:`video_similarity.extraction`, written by ``extract`` and
``region_sample``): an :class:`~video_similarity.extraction.ExtractionJob` puts
each encoder's items in ``cache_dir/<name>/<video_id>.npz`` (``features`` float32,
one unit row per frame, clip or feature row; ``timestamps``; ``key``: the input
it was made from), a stamped folder of the one cache rule; the node merges the
items into official descriptor files afterwards. A
:class:`~video_similarity.extraction.RegionSampleJob` writes unwhitened R-MAC /
iMAC regions of evenly spaced frames instead (to fit whitening).

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
from video_similarity.extraction import ExtractionJob, RegionSampleJob, VideoInput
from video_similarity.frames.archive import FrameArchive
from video_similarity.jobs import read_job
from video_similarity.workers.common import prepare

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


def encode_video(model, entry: dict, video_id: str, video: VideoInput, batch_size: int, device: str) -> tuple[np.ndarray, np.ndarray]:
    """(features (n, dim), timestamps (n, 2)) of one video: per 1-fps frame, per clip, or per input row."""
    from video_similarity.training.augment import to_tensor
    from video_similarity.video.clips import clips_from_frames, read_clips, to_clip_tensor

    if model.kind == "features":
        from video_similarity.models.video_transformer import encode_video as transform

        base = read_item(entry["input_features"], video_id)
        if base is None:
            raise ValueError(f"no {Path(entry['input_features']).name} features to transform")
        return transform(model, base["features"], device), base["timestamps"]
    if model.kind == "frames":
        frames, stamps = _frames(model, video.archive)
        return _batched(model, (to_tensor(frames[i : i + batch_size]) for i in range(0, len(frames), batch_size)), device), stamps
    if model.clip_source == "archive":
        frames, stamps = _frames(model, video.archive)
        n, t = len(frames), int(model.clip_frames)
        clips = clips_from_frames(np.stack(frames), t)
        spans = np.asarray([[stamps[i][0], stamps[min(i + t, n) - 1][1]] for i in range(0, n, t)])
        return _batched(model, (to_clip_tensor(clips[i : i + batch_size]) for i in range(0, len(clips), batch_size)), device), spans

    def clip_batches():
        pending = []
        for clip in read_clips(video.video, int(model.clip_frames), int(model.frame_stride), int(model.input_size)):
            pending.append(clip)
            if len(pending) == batch_size:
                yield to_clip_tensor(np.stack(pending))
                pending = []
        if pending:
            yield to_clip_tensor(np.stack(pending))

    features = _batched(model, clip_batches(), device)
    return features, np.full((len(features), 2), np.nan)  # clip times at the video's own rate are not tracked


def item_input_key(model, entry: dict, video_id: str, video: VideoInput) -> str:
    """The one cache rule's key of one video's item: what the encoder reads."""
    if model.kind == "features":
        return input_key(Path(entry["input_features"]) / f"{video_id}.npz")
    if model.kind == "clips" and model.clip_source == "video":
        return input_key(video.archive, video.video)
    return input_key(video.archive)


def sample_regions(model, archive: str, n_frames: int, device: str) -> np.ndarray:
    """Unwhitened regional vectors of ``n_frames`` evenly spaced frames: R-MAC (n*9, 3840), iMAC (n, 3840)."""
    import torch

    from video_similarity.training.augment import to_tensor

    frames, _ = _frames(model, archive)
    picks = np.unique(np.linspace(0, len(frames) - 1, num=min(n_frames, len(frames))).round().astype(int))
    with torch.no_grad():
        regions = model.regions(to_tensor([frames[i] for i in picks]).to(device)).float().cpu().numpy()
    return regions.reshape(-1, regions.shape[-1])


def run_region_sample(job: RegionSampleJob, context) -> None:
    from video_similarity.models.registry import build_from_entry

    mine = shard(sorted(job.videos), context)
    model = build_from_entry(job.entry, context.device)
    per_video = max(1, math.ceil(job.max_frames / max(1, len(job.videos))))
    vectors = [sample_regions(model, job.videos[v].archive, per_video, context.device) for v in mine]
    dim = vectors[0].shape[1] if vectors else 0
    array = np.concatenate(vectors) if vectors else np.zeros((0, dim), np.float32)
    atomic_write(Path(job.output_dir) / f"rank{context.rank}.npy", lambda handle: np.save(handle, array))


#: ``<encoder folder>/inflight_rank<r>.txt``: the video a rank is encoding, left behind when the process dies.
INFLIGHT = "inflight_rank"


def run_features(job: ExtractionJob, context) -> None:
    from tqdm.auto import tqdm

    from video_similarity.models.registry import build_from_entry

    cache_dir = Path(job.cache_dir)
    videos = job.videos
    mine = shard(sorted(videos), context)
    for name, entry in job.encoders.items():
        folder = cache_dir / name
        model = None
        failed, started, done = {}, time.perf_counter(), 0
        skip = set(job.skip.get(name, ()))  # videos that killed an earlier job (extraction.extract)
        note = folder / f"{INFLIGHT}{context.rank}.txt"  # names the video if this process dies on it
        for video_id in tqdm(mine, desc=name, unit="video", disable=not context.is_main, mininterval=5):
            if video_id in skip:
                continue
            video = videos[video_id]
            try:
                if model is None:
                    model = build_from_entry(entry, context.device)
                key = item_input_key(model, entry, video_id, video)
                if item_is_current(folder, video_id, key):
                    continue
                note.write_text(video_id)  # only around the encoding: a death here is this video's doing
                try:
                    features, timestamps = encode_video(model, entry, video_id, video, job.batch_size, context.device)
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
    job = read_job()
    if not isinstance(job, (ExtractionJob, RegionSampleJob)):
        raise ValueError(f"the extraction worker runs extraction jobs, not {type(job).__name__}")
    context = init_worker()
    run(job, context)
    barrier(context)
    finish(context)


def run(job: ExtractionJob | RegionSampleJob, context) -> None:
    """This rank's share of ``job`` (also called in the caller's process: ``launch.in_process``)."""
    (run_region_sample if isinstance(job, RegionSampleJob) else run_features)(job, context)


if __name__ == "__main__":
    main()
