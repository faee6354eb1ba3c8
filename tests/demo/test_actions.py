"""The action demo: motion-only classes in the UCF layout, with groups."""

import numpy as np

from video_similarity.action.ucf_layout import index_ucf_folder
from video_similarity.demo.actions import MOTIONS, pose, write_action_demo
from video_similarity.demo.params import ActionDemoParams


def test_opposite_directions_visit_the_same_poses_in_reverse_order():
    start = np.random.default_rng(0).random(5)
    for motion in ("drift", "rotate", "zoom"):
        forward = [pose(motion, 1, u, start, 1.0) for u in np.linspace(0, 1, 9)]
        backward = [pose(motion, -1, u, start, 1.0) for u in np.linspace(0, 1, 9)][::-1]
        # the same poses, the angle up to a constant offset (the start angle is uniform: no single frame tells the sense)
        offsets = {round(a.angle - b.angle, 9) for a, b in zip(forward, backward)}
        assert len(offsets) == 1
        for a, b in zip(forward, backward):
            assert np.isclose(a.x, b.x) and np.isclose(a.y, b.y) and np.isclose(a.radius, b.radius)


def test_the_demo_is_a_ucf_layout_with_groups_and_every_class(tmp_path):
    params = ActionDemoParams(classes=("DriftRight", "Bounce"), groups=2, clips_per_group=2, frames=12, size=32)
    paths = write_action_demo(tmp_path, params, "shapes")
    videos, problems = index_ucf_folder(tmp_path)
    assert len(paths) == len(videos) == 8 and not problems.problems
    assert sorted(videos["class_name"].unique()) == ["Bounce", "DriftRight"] and sorted(videos["group"].unique()) == [1, 2]
    made = {p: p.stat().st_mtime_ns for p in paths}
    write_action_demo(tmp_path, params, "shapes")  # files already there are kept
    assert all(p.stat().st_mtime_ns == t for p, t in made.items())
    (tmp_path / "DriftRight" / "notes.txt").write_text("mine")
    fewer = write_action_demo(tmp_path, ActionDemoParams(classes=("DriftRight", "Bounce"), groups=2, clips_per_group=1, frames=12, size=32), "shapes")
    assert sorted(p.name for p in tmp_path.glob("*/v_*.mp4")) == sorted(p.name for p in fewer) and len(fewer) == 4  # other settings: redone
    assert (tmp_path / "DriftRight" / "notes.txt").read_text() == "mine"  # what is not the demo's is left alone


def test_every_class_has_a_motion():
    assert len(MOTIONS) == 8 and {m for m, _ in MOTIONS.values()} == {"drift", "rotate", "zoom", "bounce", "swing"}
