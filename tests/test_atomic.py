"""Atomic writes: complete files only, with the permissions a plain write would give."""

import os

import pytest

from video_similarity.atomic import atomic_path, atomic_write


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_written_files_honour_the_umask_not_mkstemps_0600(tmp_path, umask):
    old = os.umask(umask)
    try:
        path = atomic_write(tmp_path / "report.json", lambda handle: handle.write(b"{}"))
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_a_failed_write_leaves_the_previous_file_and_no_temporary(tmp_path):
    target = tmp_path / "a.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("killed")
    assert target.read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == ["a.bin"]


def test_stale_temporaries_of_atomic_writes_are_removed_and_nothing_else(tmp_path):
    from video_similarity.atomic import remove_stale_temporaries

    folder = tmp_path / "archives" / "deep"
    folder.mkdir(parents=True)
    stale = [folder / ".Q1.zip.ab3_x9Zk.tmp", tmp_path / ".report.json.k2j4h5g6.tmp"]
    keep = [folder / "Q1.zip", folder / "notes.tmp", folder / ".hidden", tmp_path / ".cfg.tmp"]
    for path in stale + keep:
        path.write_bytes(b"x")
    assert remove_stale_temporaries(tmp_path) == 2
    assert not any(p.exists() for p in stale) and all(p.exists() for p in keep)


def test_a_temporary_still_being_written_is_spared(tmp_path):
    """A copy command may write beside a run: only temporaries untouched for min_age seconds are a killed run's."""
    import os
    import time

    from video_similarity.atomic import remove_stale_temporaries

    old, fresh = tmp_path / ".a.npz.ab3_x9Zk.tmp", tmp_path / ".b.npz.cd4_y8Wj.tmp"
    for path in (old, fresh):
        path.write_bytes(b"x")
    hour_ago = time.time() - 3600
    os.utime(old, (hour_ago, hour_ago))
    assert remove_stale_temporaries(tmp_path, min_age=60) == 1
    assert not old.exists() and fresh.exists()
