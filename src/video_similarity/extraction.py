"""Node side of the one extraction worker: stamp each encoder's cache folder, launch, read back.

Every track extracts through here: the VSC ensemble's references and queries,
its baselines (PDQ, the untrained backbone), the retrieval zoo and the video
encoder's outputs. :func:`encoder_stamp` is the encoder half of the one cache
rule (:mod:`video_similarity.cache`): what the encoder is, with the digest of
every file it loads; the per-video half is the worker's.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from video_similarity.cache import STAMP, file_digest, open_stamped
from video_similarity.descriptors import Descriptors, load_descriptors
from video_similarity.jobs import run_job
from video_similarity.launch import LaunchConfig, LaunchError

WORKER = "video_similarity.workers.embed"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VideoInput:
    """What the worker reads of one video: its 1-fps frame archive, and the source file (clip encoders decoding it)."""

    archive: str | None  # None: the encoder reads another encoder's items (kind "features")
    video: str | None


@dataclass(frozen=True)
class ExtractionJob:
    """Per-video features of every encoder over ``videos``, into ``cache_dir/<encoder>/<video>.npz``."""

    WORKER: ClassVar[str] = WORKER

    encoders: dict[str, dict]  # {name: EncoderSpec.job_entry()}
    videos: dict[str, VideoInput]  # in merge order
    cache_dir: str  # each encoder's folder is a stamped folder of the one cache rule
    batch_size: int
    skip: dict[str, list[str]]  # {encoder: videos that killed an earlier job}: not tried again


@dataclass(frozen=True)
class RegionSampleJob:
    """Unwhitened R-MAC / iMAC regions of evenly spaced frames of ``videos`` (to fit whitening), one .npy per rank."""

    WORKER: ClassVar[str] = WORKER

    entry: dict  # the encoder's EncoderSpec.job_entry(), without whitening
    videos: dict[str, VideoInput]
    max_frames: int  # over all videos
    output_dir: str


def encoder_stamp(entry: dict) -> dict:
    """The identity of an encoder's outputs: builder, options, seed and the digests of its files."""
    stamp = {"builder": entry["builder"], "options": entry.get("options") or {}, "seed": int(entry["seed"])}
    for key in ("weights_path", "whitening_path"):
        if entry.get(key):
            stamp[key.replace("_path", "_sha256")] = file_digest(entry[key])
    if entry.get("input_features"):  # features of another encoder: its stamp is part of this one's
        stamp["input_features"] = json.loads((Path(entry["input_features"]) / STAMP).read_text())
    return stamp


CRASHED = "crashed.json"  # {video_id: {"key", "error"}}: videos that killed an extraction process
MAX_CRASHES = 20  # relaunches of one job after a process died on a video


def failures(folder: str | Path) -> dict[str, str]:
    """{video_id: error} recorded by the worker's ranks in one encoder's folder, and the videos that killed a job."""
    failed: dict[str, str] = {video: row["error"] for video, row in _crashed(folder).items()}
    for path in sorted(Path(folder).glob("failed_rank*.json")):
        failed.update(json.loads(path.read_text()))
    return failed


def _crashed(folder: str | Path) -> dict[str, dict]:
    try:
        return json.loads((Path(folder) / CRASHED).read_text())
    except (OSError, ValueError):
        return {}


def _skipped(folder: Path, videos: dict[str, dict]) -> list[str]:
    """Videos that killed an earlier job and whose inputs have not changed since: not tried again.

    A record whose video has changed is dropped (the video is tried again, and recorded again if it kills again).
    """
    from video_similarity.atomic import atomic_write
    from video_similarity.cache import input_key

    crashed = _crashed(folder)
    current = {v: row for v, row in crashed.items() if v not in videos or row.get("key") == input_key(videos[v]["archive"], videos[v].get("video"))}
    if current != crashed:
        data = json.dumps(current, indent=1).encode()
        atomic_write(folder / CRASHED, lambda handle: handle.write(data))
    return [v for v in current if v in videos]


def _suspects(cache_dir: Path, encoders: dict, videos: dict[str, dict]) -> dict[str, set[str]]:
    """{encoder: videos} named by the in-flight notes a failed job left (notes removed)."""
    from video_similarity.workers.embed import INFLIGHT

    found: dict[str, set[str]] = {}
    for name in encoders:
        for note in (cache_dir / name).glob(f"{INFLIGHT}*.txt"):
            video = note.read_text().strip()
            note.unlink()
            if video in videos:
                found.setdefault(name, set()).add(video)
    return found


def _record_crashes(cache_dir: Path, encoders: dict, videos: dict[str, dict], batch_size: int, launch_params, error: Exception) -> int:
    """After a job died: each video a rank was encoding is tried alone in a one-process job; one that kills that job
    too is recorded as failed (torchrun stops the other ranks of a dying job, so their notes name innocent videos).
    How many were recorded."""
    from video_similarity.atomic import atomic_write
    from video_similarity.cache import input_key, item_path

    suspects = _suspects(cache_dir, encoders, videos)
    alone = LaunchConfig.from_params({**(launch_params or {}), "nproc_per_node": 1, "nnodes": 1, "rdzv_endpoint": None})
    found = 0
    for name, names in suspects.items():
        folder = cache_dir / name
        crashed = _crashed(folder)
        for video in sorted(names):
            job = ExtractionJob({name: encoders[name]}, _inputs({video: videos[video]}), str(cache_dir), batch_size, {})
            try:
                run_job(job, alone, workdir=cache_dir / "jobs")
                continue  # it encodes on its own: it was stopped with the dying job, not the cause
            except LaunchError as alone_error:
                reason = str(alone_error).splitlines()[0]
            for stale in folder.glob("inflight_rank*.txt"):
                stale.unlink()
            crashed[video] = {"key": input_key(videos[video]["archive"], videos[video].get("video")),
                              "error": f"the extraction process died while encoding it ({reason})"}
            item_path(folder, video).unlink(missing_ok=True)  # an older item must not be merged in its place
            found += 1
            log.warning("%s: %s killed the extraction job; recorded as failed, the rest goes on", name, video)
        if crashed:
            data = json.dumps(crashed, indent=1).encode()
            atomic_write(folder / CRASHED, lambda handle: handle.write(data))
    if suspects and not found:
        log.info("The job failed (%s) but every video it was encoding encodes on its own: trying the job again",
                 str(error).splitlines()[0])
    return found if found else (-1 if suspects else 0)


def merge_items(cache_dir: Path, merge_dir: Path, name: str, video_ids: list[str]) -> None:
    """One encoder's items, in the given order, as an official-format descriptor file."""
    import numpy as np

    from video_similarity.cache import read_item
    from video_similarity.descriptors import save_descriptors

    ids, stamps, feats = [], [], []
    for video_id in video_ids:
        item = read_item(cache_dir / name, video_id)
        if item is None:  # failed: recorded in its folder
            continue
        if len(item["timestamps"]) != len(item["features"]) or np.isnan(item["timestamps"]).any():
            raise ValueError(f"{name}: {video_id} has no per-row timestamps; only frame encoders make descriptor files")
        ids += [video_id] * len(item["features"])
        stamps.append(item["timestamps"])
        feats.append(item["features"])
    save_descriptors(merge_dir / f"{name}.npz", Descriptors(np.asarray(ids), np.concatenate(stamps), np.concatenate(feats)))


def _all_current(cache_dir: Path, encoders: dict[str, dict], videos: dict[str, dict], skip: dict[str, list[str]]) -> bool:
    """Every item already made from the inputs it would be made from now (videos that crashed a job excepted)."""
    from video_similarity.cache import input_key, item_is_current

    for name, entry in encoders.items():
        skipped = set(skip.get(name) or ())
        for video_id, video in videos.items():
            if video_id in skipped:
                continue
            try:  # the worker's key: the input item (features), the archive (+ the source video for clip encoders reading it)
                keys = ([input_key(Path(entry["input_features"]) / f"{video_id}.npz")] if entry.get("input_features")
                        else [input_key(video["archive"])] + ([input_key(video["archive"], video["video"])] if video.get("video") else []))
            except OSError:
                return False
            if not any(item_is_current(cache_dir / name, video_id, key) for key in keys):
                return False
    return True


def extract(
    encoders: dict[str, dict],
    videos: dict[str, dict],
    cache_dir: str | Path,
    launch_params: dict | None,
    batch_size: int,
    merge_job: str | None = None,
) -> dict[str, Descriptors] | None:
    """Features of ``videos`` ({id: {"archive", "video"}}) for every encoder (job entries), cached by the one rule.

    With ``merge_job`` the per-video items are also merged, per encoder, into an
    official-format descriptor file (frame encoders), returned as Descriptors.
    """
    from video_similarity.models.registry import check_available

    cache_dir = Path(cache_dir)
    for entry in encoders.values():
        check_available(entry)
    for name, entry in encoders.items():
        folder = cache_dir / name
        open_stamped(folder, encoder_stamp(entry))
        for stale in [*folder.glob("failed_rank*.json"), *folder.glob("inflight_rank*.txt")]:  # this job records its own
            stale.unlink()
    for attempt in range(MAX_CRASHES + 1):
        skip = {name: _skipped(cache_dir / name, videos) for name in encoders}
        if _all_current(cache_dir, encoders, videos, skip):  # nothing to encode: no job (each costs seconds of start-up)
            log.info("%s: every item of the %d videos is current", ", ".join(encoders), len(videos))
            break
        job = ExtractionJob(encoders, _inputs(videos), str(cache_dir), batch_size, skip)
        try:
            run_job(job, launch_params, workdir=cache_dir / "jobs")
            break
        except LaunchError as error:  # a process died: on a video (recorded, then the job goes on) or not (raised)
            if attempt == MAX_CRASHES or not _record_crashes(cache_dir, encoders, videos, batch_size, launch_params, error):
                raise
    if not merge_job:
        return None
    merge_dir = cache_dir / "merged" / merge_job
    for name in encoders:
        merge_items(cache_dir, merge_dir, name, list(videos))
    return {name: load_descriptors(merge_dir / f"{name}.npz") for name in encoders}


def encoder_items(
    name: str, entry: dict, archives: dict[str, str], cache_dir: str | Path, launch_params: dict | None, batch_size: int = 32
) -> dict[str, str]:
    """One encoder's per-video items ({video_id: .npz path} with ``features``) of ``archives``, extracted when missing or stale.

    For work that reads an encoder's frame features video by video (a teacher's
    rows, the video-score model's input) rather than a merged descriptor file.
    Videos the worker could not encode are left out (their errors are in :func:`failures`).
    """
    extract({name: entry}, archive_videos(archives), cache_dir, launch_params, batch_size)
    folder = Path(cache_dir) / name
    return {v: str(folder / f"{v}.npz") for v in archives if (folder / f"{v}.npz").is_file()}


def region_sample(entry: dict, videos: dict[str, dict], max_frames: int, output_dir: str | Path, launch_params: dict | None,
                  workdir: str | Path):
    """Unwhitened regional vectors of about ``max_frames`` frames of ``videos`` (R-MAC / iMAC), to fit whitening on."""
    import numpy as np

    run_job(RegionSampleJob(entry, _inputs(videos), max_frames, str(output_dir)), launch_params, workdir=workdir)
    return np.concatenate([np.load(p) for p in sorted(Path(output_dir).glob("rank*.npy"))])


def _inputs(videos: dict[str, dict]) -> dict[str, VideoInput]:
    return {video_id: VideoInput(v.get("archive"), v.get("video")) for video_id, v in videos.items()}


def archive_videos(archives: dict[str, str]) -> dict[str, dict]:
    """{video_id: archive path} -> the worker's video entries (frame encoders read archives only)."""
    return {video_id: {"archive": path, "video": None} for video_id, path in archives.items()}
