"""The one cache rule: a changed stamp empties the folder, the same stamp resumes; items carry their input's key."""

import os

import numpy as np

from video_similarity.cache import STAMP, file_digest, input_key, item_is_current, open_stamped, read_item, write_item


def test_same_stamp_resumes_and_another_one_rebuilds(tmp_path):
    folder = tmp_path / "enc"
    assert open_stamped(folder, {"builder": "x", "seed": 0}) is False  # new
    write_item(folder, "V1", "k1", features=np.ones((2, 3), np.float32))
    assert open_stamped(folder, {"seed": 0, "builder": "x"}) is True  # same stamp (key order does not matter)
    assert read_item(folder, "V1")["features"].shape == (2, 3)
    assert open_stamped(folder, {"builder": "x", "seed": 1}) is False
    assert sorted(p.name for p in folder.iterdir()) == [STAMP]  # emptied, then stamped anew


def test_a_folder_without_a_stamp_is_not_trusted(tmp_path):
    folder = tmp_path / "enc"
    folder.mkdir()
    (folder / "V1.npz").write_bytes(b"from an older version")
    assert open_stamped(folder, {"builder": "x"}) is False
    assert [p.name for p in folder.iterdir()] == [STAMP]


def test_an_item_is_current_only_for_the_input_it_was_made_from(tmp_path):
    source = tmp_path / "V1.zip"
    source.write_bytes(b"archive")
    key = input_key(source)
    write_item(tmp_path / "enc", "V1", key, features=np.zeros((1, 4), np.float32))
    assert item_is_current(tmp_path / "enc", "V1", key)
    os.utime(source, ns=(source.stat().st_mtime_ns + 10**9,) * 2)  # the archive was rewritten
    assert not item_is_current(tmp_path / "enc", "V1", input_key(source))
    assert not item_is_current(tmp_path / "enc", "V2", key)
    (tmp_path / "enc" / "V3.npz").write_bytes(b"truncated")
    assert not item_is_current(tmp_path / "enc", "V3", key) and read_item(tmp_path / "enc", "V3") is None
    assert [p.name for p in (tmp_path / "enc").iterdir() if p.suffix == ".tmp"] == []


def test_file_digest_follows_the_content(tmp_path):
    path = tmp_path / "w.pth"
    path.write_bytes(b"a")
    first = file_digest(path)
    path.write_bytes(b"b")
    os.utime(path, ns=(path.stat().st_mtime_ns + 10**9,) * 2)
    assert file_digest(path) != first


def test_the_digest_of_many_inputs_follows_any_one_of_them(tmp_path):
    from video_similarity.cache import inputs_digest

    paths = {}
    for name in ("A", "B"):
        paths[name] = tmp_path / f"{name}.zip"
        paths[name].write_bytes(name.encode())
    first = inputs_digest(paths)
    assert inputs_digest(dict(reversed(list(paths.items())))) == first  # order does not matter
    os.utime(paths["B"], ns=(paths["B"].stat().st_mtime_ns + 10**9,) * 2)
    assert inputs_digest(paths) != first
