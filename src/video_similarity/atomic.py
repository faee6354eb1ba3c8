"""Atomic file writes: a file that exists is complete.

Everything is written to a temporary file in the target's folder and renamed
over the target at the end, so a crash (pre-emption, full disk, a dying
worker) leaves the previous file or nothing, never half a file that a resumed
run would trust. Where several processes write one thing (a copy index, a new
tracking store), :func:`exclusive_lock` lets one in at a time.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

log = logging.getLogger(__name__)

#: The names :func:`atomic_path` gives its temporaries: ``.<target name>.<mkstemp's 8 characters>.tmp``.
TEMPORARY = re.compile(r"^\..+\.[A-Za-z0-9_]{8}\.tmp$")


def _read_umask() -> int:
    """The process umask, read without changing it where Linux allows (setting and restoring it races with threads)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    umask = os.umask(0o022)  # elsewhere: once, at import, before any writer thread exists
    os.umask(umask)
    return umask


_IMPORT_UMASK = _read_umask()


def _file_mode() -> int:
    """What ``open(path, "w")`` would give: 0o666 less the process umask (mkstemp makes 0o600)."""
    umask = _read_umask() if os.path.exists("/proc/self/status") else _IMPORT_UMASK
    return 0o666 & ~umask


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path to write ``path`` through (for writers that want a file name)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, _file_mode())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], None]) -> Path:
    """Call ``write`` on a binary handle, flush it to disk, then move it over ``path``."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
    return Path(path)


def remove_stale_temporaries(root: str | os.PathLike, min_age: float = 0.0) -> int:
    """Delete the temporaries of atomic writes that a killed run left under ``root``; how many.

    Call it before a run starts writing. ``min_age`` (seconds since the
    temporary was last written) spares the files of writers still at work, such
    as a ``kedro find-copies`` or ``add-references`` running beside the run.
    """
    import time

    removed, now = 0, time.time()
    for folder, _, files in os.walk(root):
        for name in files:
            if TEMPORARY.match(name):
                try:
                    if min_age and now - os.stat(os.path.join(folder, name)).st_mtime < min_age:
                        continue
                    os.unlink(os.path.join(folder, name))
                    removed += 1
                except OSError:
                    pass
    if removed:
        log.info("Removed %d temporary file(s) that an interrupted run left under %s", removed, root)
    return removed


@contextmanager
def exclusive_lock(path: str | os.PathLike) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created if missing): other processes wait here until it is released."""
    import fcntl  # POSIX; imported here so that the atomic writes above stay importable everywhere

    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
