"""The tracking store's plumbing: where a SQLite store lives, who may create it, which errors are its own."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

from video_similarity.atomic import exclusive_lock

#: How long a run waits for a store another process holds locked (MLflow's own SQLite busy timeout is 20 s).
LOCK_WAIT_S = 20.0

_STORE_MODULES = ("mlflow", "sqlalchemy", "sqlite3", "alembic")


def _causes(error: BaseException) -> Iterator[BaseException]:
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = error.__cause__ or error.__context__


def _raised_in_store(error: BaseException) -> bool:
    tb = error.__traceback__
    while tb is not None:
        if str(tb.tb_frame.f_globals.get("__name__", "")).startswith(_STORE_MODULES):
            return True
        tb = tb.tb_next
    return False


def is_tracking_error(error: BaseException) -> bool:
    """Whether ``error`` (or what caused it) comes from the tracking store (MLflow, SQLAlchemy, SQLite), not from the data being saved."""
    return any((type(e).__module__ or "").startswith(_STORE_MODULES) or _raised_in_store(e) for e in _causes(error))


def first_line(error: BaseException) -> str:
    for e in _causes(error):  # the deepest message is the one that says what is wrong with the store
        cause = e
    text = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {text[0][:300]}" if text else type(cause).__name__


def _sqlite_file(uri: str) -> Path | None:
    return Path(uri[len("sqlite:///"):]) if uri.startswith("sqlite:///") else None


def resolve_store_uri(uri: str | None, project_path: Path) -> str | None:
    """A ``sqlite:///relative/path`` store is relative to the project, not to the working directory; its folder is made."""
    path = _sqlite_file(uri or "")
    if path is None:
        return uri
    if not path.is_absolute():
        path = Path(project_path) / path
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def check_store(uri: str | None) -> None:
    """Raise ``sqlite3.Error`` at once when a SQLite store is not a database or stays locked for ``LOCK_WAIT_S``.

    MLflow would retry opening a bad file for about 100 s before failing; this
    probe reads the file's header and takes the write lock for a moment instead.
    """
    import sqlite3

    path = _sqlite_file(uri or "")
    if path is None:
        return
    connection = sqlite3.connect(str(path), timeout=LOCK_WAIT_S, isolation_level=None)
    try:
        connection.execute("PRAGMA schema_version").fetchone()
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("ROLLBACK")
    finally:
        connection.close()


@contextlib.contextmanager
def store_lock(uri: str | None) -> Iterator[None]:
    """Held while a run opens a SQLite store: two runs starting on a fresh store would both create its tables."""
    path = _sqlite_file(uri or "")
    if path is None:
        yield
        return
    with exclusive_lock(path.with_name(path.name + ".lock")):
        yield


def git_commit(project_path: Path) -> dict[str, str]:
    """The project's commit and whether its tracked files differ from it (empty outside a git checkout)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=project_path, capture_output=True, text=True, timeout=20, check=True).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return {}
    return {"mlflow.source.git.commit": commit, "git_commit": commit, "git_dirty": str(dirty).lower()}
