"""The one cache rule: a folder is stamped with what made it, and each item with the input it came from.

Every cache of the project (per-video features of every encoder, trained
models, fitted whitening) is a *stamped folder*: ``stamp.json`` holds the
identity of what fills it (an encoder's name, builder, options, the digest of
its weights file or checkpoint, the frame settings). Opening the folder with
another stamp empties it; the same stamp resumes what is there.

Per-item outputs (one video's features) are ``.npz`` files that carry the key
of the input they were made from (:func:`input_key`: the frame archive and, for
encoders that decode the video itself, the source video, by size and
modification time; an archive is rewritten whenever its settings or its source
change). An item whose input changed is made again; items are written
atomically, so a killed job leaves complete files or none.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import shutil
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

import numpy as np

from video_similarity.atomic import atomic_write

log = logging.getLogger(__name__)

STAMP = "stamp.json"


def _canonical(value) -> object:
    return json.loads(json.dumps(value, sort_keys=True, default=str))


@lru_cache(maxsize=256)
def _digest(path: str, size: int, mtime_ns: int) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


def file_digest(path: str | Path) -> str:
    """sha256 of a file's content (weights, checkpoints): what a cache of its outputs is keyed by."""
    stat = Path(path).stat()
    return _digest(str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)


def open_stamped(folder: str | Path, stamp: Mapping) -> bool:
    """Make ``folder`` hold what ``stamp`` describes: empty it when it holds anything else. True when reused."""
    folder = Path(folder)
    wanted = _canonical(stamp)
    path = folder / STAMP
    reused = False
    if folder.exists():
        try:
            reused = json.loads(path.read_text()) == wanted
        except (OSError, json.JSONDecodeError):
            reused = False
        if not reused and any(folder.iterdir()):
            log.info("%s was made with other settings: it is made again", folder)
            shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if not reused:
        data = json.dumps(wanted, indent=2, sort_keys=True).encode()
        atomic_write(path, lambda handle: handle.write(data))
    return reused


def input_key(*paths: str | Path | None) -> str:
    """Identity of the files an item is made from (size and modification time of each)."""
    parts = []
    for path in paths:
        if path is None:
            continue
        stat = Path(path).stat()
        parts.append(f"{Path(path).name}:{stat.st_size}:{stat.st_mtime_ns}")
    return "|".join(parts)


def inputs_digest(paths: Mapping[str, str | Path]) -> str:
    """One digest of many items' inputs ({item: path}, by :func:`input_key`): a stamp entry for work made from all of them."""
    keys = json.dumps({item: input_key(path) for item, path in sorted(paths.items())})
    return hashlib.sha256(keys.encode()).hexdigest()


def item_path(folder: str | Path, item: str) -> Path:
    return Path(folder) / f"{item}.npz"


def write_item(folder: str | Path, item: str, key: str, **arrays: np.ndarray) -> Path:
    """One item's arrays with the key of its input, atomically."""
    buffer = io.BytesIO()
    np.savez(buffer, key=np.asarray(key), **arrays)
    return atomic_write(item_path(folder, item), lambda handle: handle.write(buffer.getvalue()))


def read_item(folder: str | Path, item: str) -> dict[str, np.ndarray] | None:
    """The item's arrays (with ``key``), or None when it is missing or unreadable."""
    path = item_path(folder, item)
    try:
        with np.load(path, allow_pickle=False) as data:
            return {name: data[name] for name in data.files}
    except (OSError, ValueError, EOFError):
        return None


def item_is_current(folder: str | Path, item: str, key: str) -> bool:
    """True when the item exists and was made from the input ``key`` names."""
    path = item_path(folder, item)
    if not path.is_file():
        return False
    try:
        with np.load(path, allow_pickle=False) as data:
            return str(data["key"]) == key
    except (OSError, ValueError, KeyError, EOFError):
        return False
