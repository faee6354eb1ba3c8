"""One video -> one frame archive: the job each preprocess worker process runs.

Kept free of pandas and Kedro so that worker processes start quickly.
"""

from __future__ import annotations

from dataclasses import dataclass

from video_similarity.frames.archive import ArchiveSettings, write_archive
from video_similarity.video.decode import VideoDecodeError, probe, sample_frames


@dataclass(frozen=True)
class Task:
    video_id: str
    source: str
    archive: str
    settings: ArchiveSettings
    source_key: str | None = None  # frames.archive.source_key of ``source``, recorded in the archive


def run_task(task: Task) -> dict:
    """Decode one video into its archive, streaming; never raises for a bad video.

    A stream that breaks midway keeps the frames decoded before the break
    (status ``partial``, with the error); one that yields nothing fails. The
    archive's meta records the source's key, the status and the error, so a
    rerun reports them again instead of a bare "cached".
    """
    errors: list[str] = []
    notes: list[str] = []
    settings = task.settings

    def frames():
        try:
            for frame in sample_frames(task.source, settings.fps, settings.short_side, max_long_side=settings.max_long_side):
                if frame.index == 0:
                    notes.extend(_geometry_notes(task.source, frame.image, settings))
                yield frame
        except VideoDecodeError as exc:
            errors.append(str(exc))
        except Exception as exc:  # a decoder crash must not stop a run of thousands
            errors.append(f"{task.source}: {type(exc).__name__}: {exc}")

    result = {"video_id": task.video_id, "archive": task.archive}
    key = task.source_key or ""
    status = lambda: "partial" if errors else "ok"  # noqa: E731
    message = lambda: "; ".join(errors + notes)  # noqa: E731
    try:
        n = write_archive(task.archive, task.video_id, frames(), settings,
                          lambda: {"source": task.source, "source_key": key, "status": status(), "error": message()})
    except (ValueError, OSError) as exc:
        error = errors[0] if errors else f"{task.source}: {exc}"
        # the video's own fault (no frame decoded) is remembered; a full disk or an unwritable folder is not
        return {**result, "status": "failed", "n_frames": 0, "error": error, "remember": bool(errors) or isinstance(exc, ValueError)}
    return {**result, "status": status(), "n_frames": n, "error": message()}


def _geometry_notes(source: str, image, settings: ArchiveSettings) -> list[str]:
    """A degenerate aspect ratio, said plainly (the archive is still made, its long side capped)."""
    h, w = image.shape[:2]
    if not settings.max_long_side or max(h, w) < settings.max_long_side:
        return []
    info = probe(source)
    ratio = max(info.width, info.height) / max(1, min(info.width, info.height))
    if ratio <= 4:
        return []
    return [f"degenerate aspect ratio {ratio:.0f}:1 ({info.width}x{info.height}): frames archived at {w}x{h}, "
            f"the long side capped at {settings.max_long_side}"]
