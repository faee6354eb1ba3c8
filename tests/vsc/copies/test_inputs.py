"""Each unreadable input is one line naming the file; the readable ones go on."""

from video_similarity.vsc.copies.inputs import check_videos, query_id


def test_every_bad_input_is_named_and_the_good_one_kept(tmp_path, indexed_video):
    good = indexed_video("good.mp4", n_frames=30, fps=10.0)
    short = indexed_video("short.mp4", n_frames=5, fps=10.0)
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    text = tmp_path / "notes.mp4"
    text.write_text("not a video at all")
    (tmp_path / "nothing").mkdir()
    (tmp_path / "nothing" / "readme.txt").write_text("x")
    missing = tmp_path / "missing.mp4"
    inputs = check_videos([str(good), str(short), str(empty), str(text), str(tmp_path / "nothing"), str(missing)], 1.0)
    assert [v.path for v in inputs.videos] == [good] and inputs.videos[0].duration >= 2.9
    errors = inputs.errors
    assert errors[str(missing)] == f"{missing}: no such file or folder"
    assert "a folder with no videos" in errors[str(tmp_path / "nothing")]
    assert errors[str(empty)].startswith(str(empty)) and "empty" in errors[str(empty)]
    assert errors[str(text)].startswith(str(text)) and "not a readable media file" in errors[str(text)]
    assert errors[str(short)].startswith(str(short)) and "shorter than 1 s" in errors[str(short)]
    assert all("\n" not in message for message in errors.values())


def test_a_folder_gives_its_videos_and_ids_differ_by_path(tmp_path, indexed_video):
    (tmp_path / "a").mkdir()
    first = indexed_video("a/clip.mp4")
    second = indexed_video("clip.mp4")
    inputs = check_videos([str(tmp_path / "a"), str(second)], 1.0)
    assert [v.path for v in inputs.videos] == [first, second]
    assert query_id(first) != query_id(second) and query_id(first).startswith("clip-")
    assert query_id(first) == query_id(tmp_path / "a" / ".." / "a" / "clip.mp4")
