"""Decode each video's sampled clips once into a frame archive: the input of training, evaluation and the probes.

An action video becomes ``clips`` clips of ``sampling.frames`` frames each
(:mod:`video_similarity.action.sampling`), stored back to back in one frame
archive (:mod:`video_similarity.frames.archive`): frame ``k * T + j`` is frame
``j`` of clip ``k``. Every reader then cuts the archive into clips by count
(``video.clips.clips_from_frames``), so the TVN training task, its
evaluation and every encoder of the severe pipeline (through the one
extraction worker, ``clip_source: archive``) see the same pixels.

Frames are resized so their short side is ``sampling.size`` and centre-cropped
to a square (PyTorchVideo's evaluation transform, as ``video.clips``). The
archive's timestamps are frame numbers of the source (``[i, i + 1)``), not
seconds. The source video is decoded once, keeping every ``stride``-th frame
and the last one (clip starts are multiples of the stride).

An archive is current while its source key (``frames.archive.source_key``)
and settings match; a video that fails to decode or is too short is recorded
as failed with its reason and skipped, a stream that breaks after enough frames
is used up to the break (status ``partial``, the error says where), and a job
that kills its worker costs only that video (``parallel.run_parallel``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from video_similarity.action.sampling import ClipSampling, clip_indices, clip_starts
from video_similarity.frames.archive import ArchiveSettings, read_meta, source_key, write_archive
from video_similarity.video.decode import SampledFrame, VideoDecodeError

MANIFEST_COLUMNS = ["video_id", "archive", "status", "error", "frames_decoded", "clips"]
#: Statuses of a video whose clips are used: decoded whole, or up to a break in its stream (the error says where).
USABLE = ("good", "partial")


@dataclass(frozen=True)
class ClipArchiveParams:
    """How the clips of every video are cut (``clips`` uniformly spaced clips; video-level results average them)."""

    sampling: ClipSampling = ClipSampling()
    clips: int = 3
    min_frames: int = 11  # fewer than one stride + 1: a clip would be one frame repeated, with no motion
    jpeg_quality: int = 95

    def settings(self) -> ArchiveSettings:
        """The archive settings stamped in each meta (fps 0: frames are picked by count, not by time)."""
        return ArchiveSettings(fps=0.0, short_side=self.sampling.size, jpeg_quality=self.jpeg_quality, max_long_side=None)

    def stamp(self) -> dict:
        return {"frames": self.sampling.frames, "stride": self.sampling.stride, "size": self.sampling.size, "clips": self.clips,
                "min_frames": self.min_frames}


def decode_kept_frames(path: str | Path, stride: int, size: int) -> tuple[dict[int, np.ndarray], int, str | None]:
    """Every ``stride``-th decoded frame and the last one, short side ``size`` then centre-cropped; the frame count; and,
    for a stream that breaks after some frames, what broke (the frames before the break are kept)."""
    import av
    from av.video.reformatter import VideoReformatter

    from video_similarity.video.clips import center_crop
    from video_similarity.video.decode import _frame_to_rgb, _open

    container = _open(path)
    kept, last, count, broken = {}, None, 0, None
    try:
        stream = container.streams.video[0]
        reformatter = VideoReformatter()
        try:
            for frame in container.decode(stream):
                if count % stride == 0:
                    kept[count] = center_crop(_frame_to_rgb(frame, size, reformatter), size)
                    last = None
                else:
                    last = frame
                count += 1
        except av.error.FFmpegError as exc:
            if not count:
                raise VideoDecodeError(path, f"cannot decode video ({exc})") from exc
            broken = f"stream breaks after {count} frames ({exc}); the frames before the break are used"
        if last is not None:
            kept[count - 1] = center_crop(_frame_to_rgb(last, size, reformatter), size)
    finally:
        container.close()
    if count == 0:
        raise VideoDecodeError(path, "no decodable video frames")
    return kept, count, broken


def clip_plan(n_frames: int, sampling: ClipSampling, clips: int) -> list[list[int]]:
    """Source frame indices of each clip of a video with ``n_frames`` frames."""
    return [clip_indices(n_frames, sampling, start) for start in clip_starts(n_frames, sampling, clips)]


def write_clip_archive(video_id: str, path: str, out: str, params: ClipArchiveParams) -> dict:
    """One manifest row: the video's clip archive written (or found current), or why it failed."""
    row = {"video_id": video_id, "archive": out, "status": "failed", "error": None, "frames_decoded": 0, "clips": 0}
    try:
        if not Path(path).is_file():
            raise VideoDecodeError(path, "file does not exist")
        meta = read_meta(out)
        key = source_key(path, known=(meta or {}).get("source_key"))  # unchanged path, size, mtime: no bytes read
        if meta is not None and meta.get("source_key") == key and meta.get("clip_settings") == params.stamp():
            broken = meta.get("stream_error")
            return {**row, "status": "partial" if broken else "good", "error": broken, "frames_decoded": meta["frames_decoded"],
                    "clips": len(meta["clips"])}
        kept, count, broken = decode_kept_frames(path, params.sampling.stride, params.sampling.size)
        if count < params.min_frames:
            too_short = f"too short: {count} frames, at least {params.min_frames} needed"
            return {**row, "error": f"{too_short} ({broken})" if broken else too_short, "frames_decoded": count}
        plan = clip_plan(count, params.sampling, params.clips)
        frames = (SampledFrame(i, float(i), float(i + 1), kept[i]) for clip in plan for i in clip)
        write_archive(out, video_id, frames, params.settings(), extra={"source_key": key, "clip_settings": params.stamp(), "clips": plan,
                                                                        "frames_decoded": count, "stream_error": broken})
        return {**row, "status": "partial" if broken else "good", "error": broken, "frames_decoded": count, "clips": len(plan)}
    except (VideoDecodeError, OSError, ValueError) as error:
        return {**row, "error": str(error)}


def read_archive_clips(path: str | Path, clip_frames: int, size: int | None = None) -> np.ndarray:
    """A clip archive's clips (K, T, S, S, 3) uint8, each frame resized to ``size`` (None: as stored)."""
    from video_similarity.frames.archive import FrameArchive
    from video_similarity.video.clips import clips_from_frames
    from video_similarity.workers.common import prepare

    with FrameArchive(path) as archive:
        frames = [prepare(f, size) for f in archive.frames()]
    return clips_from_frames(np.stack(frames), clip_frames)


def read_archive_clip(path: str | Path, index: int, clip_frames: int, size: int | None = None) -> np.ndarray:
    """Clip ``index`` of a clip archive (T, S, S, 3) uint8, decoding only its frames (a short last clip repeats its last frame)."""
    from video_similarity.frames.archive import FrameArchive
    from video_similarity.workers.common import prepare

    with FrameArchive(path) as archive:
        first = index * clip_frames
        if not 0 <= first < len(archive):
            raise IndexError(f"{path}: no clip {index} of {clip_frames} frames ({len(archive)} frames)")
        frames = [prepare(archive.frame(min(first + j, len(archive) - 1)), size) for j in range(clip_frames)]
    return np.stack(frames)


def archive_clip_count(path: str | Path, clip_frames: int) -> int:
    """How many clips of ``clip_frames`` an archive holds (from its meta, nothing decoded)."""
    meta = read_meta(path)
    if meta is None:
        raise ValueError(f"{path}: not a clip archive")
    return -(-int(meta["n_frames"]) // clip_frames)


def _job(job: tuple) -> dict:
    return write_clip_archive(*job)


def _crashed(job: tuple, reason: str) -> dict:
    video_id, _, out, _ = job[:4]
    return {"video_id": video_id, "archive": out, "status": "failed", "error": f"the decoding process died ({reason})",
            "frames_decoded": 0, "clips": 0}


def write_clip_archives(videos: pd.DataFrame, folder: str | Path, params: ClipArchiveParams, workers: int | None = None) -> pd.DataFrame:
    """Every video's clip archive under ``folder`` (``<video_id>.zip``), in parallel; the manifest, in the index's order."""
    from video_similarity.parallel import run_parallel

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    jobs = [(row.video_id, row.path, str(folder / f"{row.video_id}.zip"), params) for row in videos.itertuples()]
    rows = {r["video_id"]: r for r in run_parallel(_job, jobs, workers, desc="clips", on_crash=_crashed)}
    return pd.DataFrame([rows[v] for v in videos["video_id"]], columns=MANIFEST_COLUMNS)
