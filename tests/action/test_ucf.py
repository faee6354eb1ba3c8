"""UCF-style folders, the three protocols and clip sampling."""

import pytest

from video_similarity.action.sampling import SAMPLINGS, ClipSampling, clip_indices, clip_starts
from video_similarity.action.splits import group_split, leave_one_group_out, random_split
from video_similarity.action.ucf_layout import index_ucf_folder
from video_similarity.ingest.problems import DatasetUnusableError


def _folder(tmp_path, classes=("Biking", "Diving", "YoYo"), groups=5, clips=3):
    for c in classes:
        (tmp_path / c).mkdir()
        for g in range(1, groups + 1):
            for k in range(1, clips + 1):
                (tmp_path / c / f"v_{c}_g{g:02d}_c{k:02d}.avi").write_bytes(b"")
    return tmp_path


def test_names_parse_into_class_group_clip_and_bad_names_are_reported(tmp_path):
    root = _folder(tmp_path, groups=2, clips=2)
    (root / "Biking" / "holiday.avi").write_bytes(b"")
    (root / "Biking" / "v_Diving_g01_c01.avi").write_bytes(b"")  # another class's clip in this folder
    (root / "Biking" / "notes.txt").write_text("not a video")
    videos, problems = index_ucf_folder(root)
    assert len(videos) == 12 and list(videos.columns) == ["video_id", "path", "class_name", "label", "group", "clip"]
    assert videos.set_index("video_id").loc["v_YoYo_g02_c01", ["class_name", "label", "group", "clip"]].tolist() == ["YoYo", 2, 2, 1]
    assert sorted(p.kind for p in problems.problems) == ["class_mismatch", "unparsed_name"]
    with pytest.raises(DatasetUnusableError, match="does not exist"):
        index_ucf_folder(tmp_path / "nowhere")


def test_group_held_out_and_leave_one_group_out_share_no_group(tmp_path):
    videos, _ = index_ucf_folder(_folder(tmp_path, groups=25, clips=4))
    group = group_split(videos, 0.15, seed=3)
    by_id = videos.set_index("video_id")
    assert not group.leaks_groups
    assert not set(by_id.loc[list(group.train), "group"]) & set(by_id.loc[list(group.test), "group"])
    assert len(set(by_id.loc[list(group.test), "group"])) == 4  # round(0.15 x 25) group numbers, for every class
    folds = leave_one_group_out(videos)
    assert len(folds) == 25 and all(not f.leaks_groups for f in folds)
    for fold in folds:
        assert set(by_id.loc[list(fold.test), "group"]) == {int(fold.name[-2:])}
        assert len(fold.train) + len(fold.test) == len(videos)
    rand = random_split(videos, 0.15, seed=0)
    assert rand.leaks_groups  # and the report says so
    per_class = by_id.loc[list(rand.test)].groupby("class_name").size()
    assert per_class.tolist() == [15, 15, 15]  # 15 % of each class's 100 clips


def test_clip_indices_stride_and_repeat_the_last_frame_of_short_videos():
    notes = SAMPLINGS["notes"]
    assert clip_indices(200, notes) == [0, 10, 20, 30, 40, 50, 60, 70]  # 8 of the first 80
    assert clip_indices(35, notes) == [0, 10, 20, 30, 34, 34, 34, 34]
    assert clip_indices(1, notes) == [0] * 8
    assert clip_indices(100, SAMPLINGS["released_tvn1"]) == [0, 4]
    with pytest.raises(ValueError):
        clip_indices(0, notes)


def test_clip_starts_spread_over_the_video_and_fall_back_to_one_clip():
    s = ClipSampling(8, 10, 200)
    assert clip_starts(171, s, 3) == [0, 50, 100]  # span 71: the last clip ends on the last frame
    assert clip_starts(60, s, 3) == [0] and clip_starts(500, s, 1) == [0]
