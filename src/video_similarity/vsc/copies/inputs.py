"""The videos a command is given: paths and folders expanded, each checked, every problem one line naming the file."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from video_similarity.ingest.vsc_layout import VIDEO_EXTENSIONS


@dataclass(frozen=True)
class InputVideo:
    """A readable video: where it is, the id its archive and embeddings are cached under, its duration."""

    path: Path
    video_id: str
    duration: float


@dataclass
class Inputs:
    videos: list[InputVideo] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)  # {path as given: one-line problem (it names the file)}


def query_id(path: Path) -> str:
    """A cache id for a user's video: its name, readable, and a digest of its absolute path (two files never share one)."""
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", path.stem)[:40] or "video"
    return f"{stem}-{hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:10]}"


def expand(paths: list[str]) -> tuple[list[Path], dict[str, str]]:
    """Files as given, folders as the videos in them (recursively, sorted); a missing path or a folder without videos is an error."""
    found: list[Path] = []
    errors: dict[str, str] = {}
    for given in paths:
        path = Path(given)
        if path.is_dir():
            videos = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS)
            if not videos:
                errors[given] = f"{given}: a folder with no videos ({', '.join(VIDEO_EXTENSIONS)})"
            found += videos
        elif path.exists():
            found.append(path)
        else:
            errors[given] = f"{given}: no such file or folder"
    return list(dict.fromkeys(found)), errors


def check_videos(paths: list[str], min_duration: float, make_id=query_id) -> Inputs:
    """Each path probed: readable, with a video stream, at least ``min_duration`` seconds long."""
    from video_similarity.video.decode import VideoDecodeError, probe

    files, errors = expand(paths)
    inputs = Inputs(errors=errors)
    for path in files:
        try:
            info = probe(path)
        except VideoDecodeError as error:
            inputs.errors[str(path)] = str(error)
            continue
        if info.duration == info.duration and info.duration < min_duration:  # NaN: unknown, decoding decides
            inputs.errors[str(path)] = f"{path}: the video is {info.duration:.2f} s long, shorter than {min_duration:g} s"
            continue
        inputs.videos.append(InputVideo(path, make_id(path), float(info.duration)))
    return inputs
