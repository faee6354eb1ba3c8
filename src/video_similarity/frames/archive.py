"""The frame archive format: one zip per video, JPEG frames plus their VSC timestamps.

Layout (stored, not compressed: JPEG is already compressed)::

    meta.json          video_id, fps, short_side, jpeg_quality, timestamps, ...
    frames/000000.jpg  frame k covers [timestamps[k][0], timestamps[k][1])

Zips are written to a temporary name and renamed, so an archive that exists is
complete. Readers open members on demand, so many workers can read one store.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from video_similarity.atomic import atomic_path

ARCHIVE_FORMAT = 1
META = "meta.json"


@dataclass(frozen=True)
class ArchiveSettings:
    """How frames were sampled; an archive made with other settings is redone."""

    fps: float = 1.0
    short_side: int | None = 256
    jpeg_quality: int = 90
    max_long_side: int | None = 1024  # a degenerate aspect ratio (3000 x 20) is capped here instead of a 38400-px frame


def frame_name(index: int) -> str:
    return f"frames/{index:06d}.jpg"


def encode_jpeg(image: np.ndarray, quality: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image, "RGB").save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def write_archive(
    path: str | Path,
    video_id: str,
    frames: Iterable,
    settings: ArchiveSettings,
    extra: dict | Callable[[], dict] | None = None,
) -> int:
    """Write sampled frames (objects with ``image``, ``start``, ``end``) atomically.

    ``extra`` (or what it returns, called after the last frame) joins the meta.
    """
    timestamps = []
    height = width = 0
    with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as archive:
        for frame in frames:
            archive.writestr(frame_name(len(timestamps)), encode_jpeg(frame.image, settings.jpeg_quality))
            timestamps.append([round(frame.start, 6), round(frame.end, 6)])
            height, width = frame.image.shape[:2]
        if not timestamps:
            raise ValueError(f"{path}: no frames to archive for {video_id}")
        meta = {
            "format": ARCHIVE_FORMAT,
            "video_id": video_id,
            **asdict(settings),
            "n_frames": len(timestamps),
            "width": width,
            "height": height,
            "timestamps": timestamps,
            **((extra() if callable(extra) else extra) or {}),
        }
        archive.writestr(META, json.dumps(meta))
    return len(timestamps)


FINGERPRINT_BYTES = 1 << 20  # hashed at each end of a source video


def source_key(path: str | Path, fingerprint_bytes: int = FINGERPRINT_BYTES, known: str | None = None) -> str:
    """Identity of a source video: path, size, modification time and a hash of its first and last MiB.

    An archive made from another file (a replaced or repaired video, another
    root whose ids repeat) has another key, so it is made again. When ``known``
    (the key recorded last time) has this file's path, size and nanosecond
    mtime, it is returned without reading the file: a rerun over 100,000 cached
    videos reads no video bytes.
    """
    path = Path(path)
    stat = path.stat()
    prefix = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|"
    if known and known.startswith(prefix):
        return known
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        digest.update(handle.read(fingerprint_bytes))
        if stat.st_size > fingerprint_bytes:
            handle.seek(max(fingerprint_bytes, stat.st_size - fingerprint_bytes))
            digest.update(handle.read(fingerprint_bytes))
    return f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{digest.hexdigest()[:16]}"


def read_meta(path: str | Path) -> dict | None:
    """The archive's meta.json, or None when the file is missing or not a valid archive."""
    try:
        with zipfile.ZipFile(path) as archive:
            return json.loads(archive.read(META))
    except (OSError, KeyError, zipfile.BadZipFile, json.JSONDecodeError):
        return None


def is_current(meta: dict | None, settings: ArchiveSettings) -> bool:
    """True when ``meta`` (from ``read_meta``) describes an archive made with ``settings``."""
    return (
        meta is not None
        and meta.get("format") == ARCHIVE_FORMAT
        and all(meta.get(k) == v for k, v in asdict(settings).items())
    )


class FrameArchive:
    """Random access to one archive's frames; use as a context manager or call close()."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            self._zip = zipfile.ZipFile(self.path)
            self.meta = json.loads(self._zip.read(META))
        except (OSError, KeyError, zipfile.BadZipFile, json.JSONDecodeError) as exc:
            raise ValueError(f"{self.path}: not a frame archive ({exc})") from exc
        self.video_id: str = self.meta["video_id"]
        self.timestamps = np.asarray(self.meta["timestamps"], dtype=np.float64).reshape(-1, 2)

    def __len__(self) -> int:
        return len(self.timestamps)

    def jpeg(self, index: int) -> bytes:
        if not 0 <= index < len(self):
            raise IndexError(f"{self.path}: frame {index} out of range (0..{len(self) - 1})")
        return self._zip.read(frame_name(index))

    def frame(self, index: int) -> np.ndarray:
        """Frame ``index`` as RGB uint8 (H, W, 3)."""
        with Image.open(io.BytesIO(self.jpeg(index))) as image:
            return np.asarray(image.convert("RGB"))

    def frames(self) -> Iterator[np.ndarray]:
        for index in range(len(self)):
            yield self.frame(index)

    def close(self) -> None:
        self._zip.close()

    def __enter__(self) -> "FrameArchive":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"FrameArchive({self.video_id!r}, {len(self)} frames, {self.path})"
