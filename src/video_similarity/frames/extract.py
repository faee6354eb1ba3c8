"""One video -> one frame archive: the job each preprocess worker process runs.

Kept free of pandas and Kedro so that worker processes start quickly.
"""

from __future__ import annotations

from dataclasses import dataclass

from video_similarity.frames.archive import ArchiveSettings, write_archive
from video_similarity.video.decode import VideoDecodeError, sample_frames


@dataclass(frozen=True)
class Task:
    video_id: str
    source: str
    archive: str
    settings: ArchiveSettings


def run_task(task: Task) -> dict:
    """Decode one video into its archive, streaming; never raises for a bad video.

    A stream that breaks midway keeps the frames decoded before the break
    (status ``partial``, with the error); one that yields nothing fails.
    """
    errors: list[str] = []

    def frames():
        try:
            yield from sample_frames(task.source, task.settings.fps, task.settings.short_side)
        except VideoDecodeError as exc:
            errors.append(str(exc))
        except Exception as exc:  # a decoder crash must not stop a run of thousands
            errors.append(f"{task.source}: {type(exc).__name__}: {exc}")

    result = {"video_id": task.video_id, "archive": task.archive}
    try:
        n = write_archive(task.archive, task.video_id, frames(), task.settings, {"source": task.source})
    except (ValueError, OSError) as exc:
        error = errors[0] if errors else f"{task.source}: {exc}"
        return {**result, "status": "failed", "n_frames": 0, "error": error}
    status = "partial" if errors else "ok"
    return {**result, "status": status, "n_frames": n, "error": "; ".join(errors)}


