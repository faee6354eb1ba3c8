import zipfile

import numpy as np
import pytest

from video_similarity.frames.archive import (
    ArchiveSettings,
    FrameArchive,
    is_current,
    read_meta,
    write_archive,
)
from video_similarity.video.decode import SampledFrame


def frames(n=3):
    for k in range(n):
        yield SampledFrame(k, float(k), float(k + 1), np.full((24, 32, 3), 40 * k, np.uint8))


def test_round_trip_keeps_frames_and_timestamps(tmp_path):
    path = tmp_path / "v.zip"
    settings = ArchiveSettings(fps=1.0, short_side=24, jpeg_quality=95)
    assert write_archive(path, "v", frames(), settings, {"source": "v.mp4"}) == 3
    with FrameArchive(path) as archive:
        assert archive.video_id == "v" and len(archive) == 3
        np.testing.assert_allclose(archive.timestamps, [[0, 1], [1, 2], [2, 3]])
        assert archive.meta["source"] == "v.mp4" and archive.meta["width"] == 32
        for k, image in enumerate(archive.frames()):
            assert image.shape == (24, 32, 3)
            assert abs(float(image.mean()) - 40 * k) < 2
        with pytest.raises(IndexError, match="out of range"):
            archive.frame(3)


def test_archives_are_stored_uncompressed_jpeg(tmp_path):
    path = tmp_path / "v.zip"
    write_archive(path, "v", frames(), ArchiveSettings())
    with zipfile.ZipFile(path) as z:
        infos = [i for i in z.infolist() if i.filename.endswith(".jpg")]
        assert len(infos) == 3 and all(i.compress_type == zipfile.ZIP_STORED for i in infos)
        assert z.read(infos[0].filename)[:2] == b"\xff\xd8"


def test_a_failed_write_leaves_nothing_behind(tmp_path):
    def broken():
        yield from frames(2)
        raise RuntimeError("decoder died")

    with pytest.raises(RuntimeError):
        write_archive(tmp_path / "v.zip", "v", broken(), ArchiveSettings())
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="no frames"):
        write_archive(tmp_path / "w.zip", "w", iter(()), ArchiveSettings())
    assert list(tmp_path.iterdir()) == []


def test_is_current_compares_settings(tmp_path):
    path = tmp_path / "v.zip"
    write_archive(path, "v", frames(), ArchiveSettings(short_side=64))
    meta = read_meta(path)
    assert is_current(meta, ArchiveSettings(short_side=64))
    assert not is_current(meta, ArchiveSettings(short_side=128))
    assert not is_current(meta, ArchiveSettings(short_side=64, fps=2.0))
    assert read_meta(tmp_path / "missing.zip") is None
    (tmp_path / "junk.zip").write_bytes(b"not a zip")
    assert read_meta(tmp_path / "junk.zip") is None
    with pytest.raises(ValueError, match="not a frame archive"):
        FrameArchive(tmp_path / "junk.zip")
