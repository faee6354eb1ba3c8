import hashlib
import math

import numpy as np
import pandas as pd
import pytest

from tests.helpers import correlation, decode_all, frame_at, thumbnail
from video_similarity.demo.corpus import (
    ground_truth,
    plan_corpus,
    query_edits,
    write_corpus,
)
from video_similarity.demo.params import DemoCorpusConfig
from video_similarity.demo.scenes import PhotoScene, Shots
from video_similarity.video.decode import probe
from video_similarity.video.edits import ALL_EDITS, MILD_EDITS

TINY = dict(
    splits={"train": {"references": 2, "queries": 3}, "test": {"references": 2, "queries": 3}},
    reference_duration=[3.0, 4.0],
    copy_duration=[1.5, 2.5],
    filler_duration=[0.5, 1.0],
    no_copy_query_duration=[1.5, 2.5],
    sizes=[[64, 48], [48, 64]],
    frame_rates=[8.0, 10.0],
)


def tiny(**overrides) -> DemoCorpusConfig:
    return DemoCorpusConfig.from_params({**TINY, **overrides})


def digest(root):
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_plan_is_deterministic_for_a_seed():
    a, b, c = plan_corpus(tiny(seed=3)), plan_corpus(tiny(seed=3)), plan_corpus(tiny(seed=4))
    pd.testing.assert_frame_equal(ground_truth(a), ground_truth(b))
    assert a == b
    assert not ground_truth(a).equals(ground_truth(c)) or a.references != c.references


def test_default_corpus_mix():
    config = DemoCorpusConfig()
    plan = plan_corpus(config)
    edits = query_edits(plan)
    for split, size in config.splits.items():
        split_edits = edits[edits["split"] == split]
        assert len(split_edits) == size.queries
        assert (~split_edits["has_copy"]).sum() == round(size.queries * config.no_copy_fraction)
        assert split_edits["embedded"].any()
    used = {e for row in edits["edits"] for e in row.split(";") if e}
    assert used == set(ALL_EDITS) | {"two_copies", "long_filler"}, f"default corpus lacks {set(ALL_EDITS) - used}"
    gt = ground_truth(plan)
    two = set(edits.loc[edits["edits"].str.contains("two_copies"), "query_id"])
    assert two and (gt[gt["query_id"].isin(two)].groupby("query_id").size() == 2).all()  # the matching track's two segments
    assert {r.video_id[:2] for r in plan.references} == {"R1", "R2"}


def _scene_photos(scene):
    return scene.photos if isinstance(scene, Shots) else {scene.photo} if isinstance(scene, PhotoScene) else set()


def _photos(plan, split):
    photos = set()
    for r in plan.references:
        if r.split == split:
            photos |= _scene_photos(r.scene)
    for q in plan.queries:
        if q.split != split:
            continue
        for scene in [p.scene for p in q.pieces] + [q.overlay, q.background]:
            photos |= _scene_photos(scene)
    return photos


def test_train_and_test_use_disjoint_photographs():
    plan = plan_corpus(DemoCorpusConfig())
    train, test = _photos(plan, "train"), _photos(plan, "test")
    assert train and test and not train & test


def test_ground_truth_spans_are_consistent():
    plan = plan_corpus(DemoCorpusConfig())
    queries = {q.video_id: q for q in plan.queries}
    refs = {r.video_id: r for r in plan.references}
    gt = ground_truth(plan)
    assert len(gt) == sum(len(q.copies) for q in plan.queries)
    for row in gt.itertuples():
        q, r = queries[row.query_id], refs[row.ref_id]
        assert q.split == r.split == row.split
        assert 0 <= row.query_start < row.query_end <= q.duration + 1e-3
        assert 0 <= row.ref_start < row.ref_end <= r.duration + 1e-3
        speed = q.copies[0].speed  # a query's copies share one speed
        assert row.ref_end - row.ref_start == pytest.approx((row.query_end - row.query_start) * speed, abs=2e-3)


def test_unknown_parameter_is_rejected():
    with pytest.raises(ValueError, match=r"ingest.demo: unknown key\(s\) \['seeds'\]"):
        DemoCorpusConfig.from_params({"seeds": 1})


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A tiny corpus without no-copy queries and with many unedited/mild ones, cameras always moving (so one second
    off is another picture) and a generous bit rate (so compression noise stays small at 64 x 48)."""
    config = tiny(seed=11, no_copy_fraction=0.0, unedited_fraction=0.4, mild_fraction=0.4, static_fraction=0.0, slow_fraction=0.0,
                  reference_bpp=[2.0, 2.0], query_bpp=[2.0, 2.0], splits={"train": {"references": 3, "queries": 8}})
    root = tmp_path_factory.mktemp("corpus")
    write_corpus(plan_corpus(config), root, workers=2)
    return config, root


def test_written_corpus_is_byte_identical_for_a_seed(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    write_corpus(plan_corpus(tiny(seed=5)), a, workers=2)
    write_corpus(plan_corpus(tiny(seed=5)), b, workers=1)
    write_corpus(plan_corpus(tiny(seed=6)), c, workers=2)
    assert digest(a) == digest(b)
    assert digest(a) != digest(c)


def test_official_layout_and_metadata_match_the_files(built):
    config, root = built
    for name in ("query_metadata", "reference_metadata", "matching_ground_truth", "descriptor_ground_truth", "query_edits"):
        assert (root / f"train_{name}.csv").is_file()
    meta = pd.read_csv(root / "train_reference_metadata.csv")
    assert list(meta.columns) == ["video_id", "duration_sec", "frames_per_sec", "width", "height", "rn"]
    for role, table in (("query", "train_query_metadata.csv"), ("reference", "train_reference_metadata.csv")):
        for row in pd.read_csv(root / table).itertuples():
            info = probe(root / "train" / role / f"{row.video_id}.mp4")
            assert (info.width, info.height) == (row.width, row.height)
            assert info.fps == pytest.approx(row.frames_per_sec, rel=1e-3)
            assert info.duration == pytest.approx(row.duration_sec, abs=0.15)


def test_rebuilding_an_up_to_date_corpus_is_a_no_op(built):
    config, root = built
    before = {p: p.stat().st_mtime_ns for p in root.rglob("*.mp4")}
    write_corpus(plan_corpus(config), root)
    assert before == {p: p.stat().st_mtime_ns for p in root.rglob("*.mp4")}


def _sample_times(row, query_fps, n=3):
    """(query frame index, its time, the mapped reference time) for frames inside the copy.

    A query frame shows the content of its own presentation time, so the mapping
    starts from that time, not from an arbitrary instant within the frame.
    """
    for f in np.linspace(0.2, 0.8, n):
        k = math.floor((row.query_start + f * (row.query_end - row.query_start)) * query_fps + 1e-6)
        tq = k / query_fps
        scale = (row.ref_end - row.ref_start) / (row.query_end - row.query_start)
        yield k, tq, row.ref_start + (tq - row.query_start) * scale


def _ref_frame(ref_frames, tr):
    """The reference frame at tr; GT times carry 3 decimals, so allow 2 ms either way."""
    return [frame_at(ref_frames, tr - 0.002), frame_at(ref_frames, tr + 0.002)]


def test_ground_truth_times_line_up_before_edits(built):
    """The unedited query timeline at a GT time shows the reference at the mapped time."""
    config, root = built
    plan = plan_corpus(config)
    queries = {q.video_id: q for q in plan.queries}
    refs = {r.video_id: r for r in plan.references}
    matched, shifted = [], []
    for row in pd.read_csv(root / "train_matching_ground_truth.csv").itertuples():
        q = queries[row.query_id]
        unedited = list(q.frames(with_edits=False))
        ref_frames = decode_all(root / "train" / "reference" / f"{row.ref_id}.mp4")
        for k, tq, tr in _sample_times(row, q.fps):
            query_frame = thumbnail(unedited[k])
            matched.append(min(np.abs(query_frame - thumbnail(r)).mean() for r in _ref_frame(ref_frames, tr)))
            shifted.append(np.abs(query_frame - thumbnail(frame_at(ref_frames, (tr + 1.2) % refs[row.ref_id].duration))).mean())
    assert matched and max(matched) < 6.0, matched  # only compression noise
    assert np.mean(shifted) > 2 * np.mean(matched)


def test_ground_truth_segments_match_in_the_written_queries(built):
    """Decoded query and reference frames at GT times: near-identical when unedited, similar after mild edits."""
    config, root = built
    edits = pd.read_csv(root / "train_query_edits.csv", keep_default_na=False).set_index("query_id")["edits"]
    fps = pd.read_csv(root / "train_query_metadata.csv").set_index("video_id")["frames_per_sec"]
    gt = pd.read_csv(root / "train_matching_ground_truth.csv")
    checked = {"unedited": 0, "mild": 0}
    other_refs = {}
    for row in gt.itertuples():
        names = [e for e in edits[row.query_id].split(";") if e]
        kind = "unedited" if not names else "mild" if set(names) <= set(MILD_EDITS) | {"fps"} else None
        if kind is None:
            continue
        query_frames = decode_all(root / "train" / "query" / f"{row.query_id}.mp4")
        ref_frames = decode_all(root / "train" / "reference" / f"{row.ref_id}.mp4")
        other_id = next(r for r in gt["ref_id"].unique().tolist() + [f"R1{i:05d}" for i in range(1, 4)] if r != row.ref_id)
        other = other_refs.setdefault(other_id, decode_all(root / "train" / "reference" / f"{other_id}.mp4"))
        for k, tq, tr in _sample_times(row, fps[row.query_id]):
            a = thumbnail(query_frames[k][1])
            if kind == "unedited":
                assert min(np.abs(a - thumbnail(b)).mean() for b in _ref_frame(ref_frames, tr)) < 8.0, (row.query_id, tq, tr)
            else:
                best = max(correlation(a, thumbnail(b)) for b in _ref_frame(ref_frames, tr))
                assert best > 0.6, (row.query_id, names, tq, tr)
                assert best > correlation(a, thumbnail(frame_at(other, tr))), (row.query_id, names)
        checked[kind] += 1
    assert checked["unedited"] >= 1 and checked["mild"] >= 1, checked


def test_the_default_mix_has_what_real_footage_has():
    """Static shots, slow pans, camera moves, people walking, cuts, and bit rates of real uploads."""
    from video_similarity.demo.scenes import Walker  # noqa: F401  (the figures walking in a shot)

    plan = plan_corpus(DemoCorpusConfig())
    shots = [scene for r in plan.references for _, scene in (r.scene.shots if isinstance(r.scene, Shots) else [(0, r.scene)])
             if isinstance(scene, PhotoScene)]
    static = [s for s in shots if s.center_start == s.center_end and s.zoom_start == s.zoom_end]
    slow = [s for s in shots if s not in static and max(abs(a - b) for a, b in zip(s.center_start, s.center_end)) <= 0.06]
    assert len(static) >= 5 and len(slow) >= 5 and len(shots) - len(static) - len(slow) >= 3
    assert sum(bool(s.walkers) for s in shots) >= len(shots) // 4
    assert any(isinstance(r.scene, Shots) for r in plan.references)
    for r in plan.references:  # bits per pixel and frame in the configured range
        assert 0.08 <= r.bit_rate / (r.size[0] * r.size[1] * r.fps) <= 0.3 + 1e-6


def test_a_still_camera_repeats_its_picture_but_people_walking_change_part_of_it():
    from video_similarity.demo.scenes import random_photo_scene

    rng = np.random.default_rng(0)
    still = random_photo_scene(rng, "camera", 6.0, "static")
    np.testing.assert_array_equal(still.render(1.0, (96, 72)), still.render(4.0, (96, 72)))
    walking = random_photo_scene(rng, "camera", 6.0, "static", walkers=True)
    a, b = walking.render(1.0, (96, 72)).astype(int), walking.render(2.0, (96, 72)).astype(int)
    changed = (np.abs(a - b).sum(axis=2) > 30).mean()
    assert 0.002 < changed < 0.3  # a person moved; the rest of the picture did not
    moving = random_photo_scene(rng, "camera", 6.0, "move")
    assert np.abs(moving.render(0.5, (96, 72)).astype(int) - moving.render(5.5, (96, 72))).mean() > 5
    with pytest.raises(ValueError, match="unknown camera move 'zoom'"):
        random_photo_scene(rng, "camera", 6.0, "zoom")


def test_videos_are_encoded_at_their_bit_rate(tmp_path):
    config = tiny(seed=2, sizes=[[160, 120]], frame_rates=[10.0], reference_duration=[6.0, 6.0], reference_bpp=[0.1, 0.1],
                  splits={"train": {"references": 2, "queries": 1}})
    write_corpus(plan_corpus(config), tmp_path, workers=1)
    for path in (tmp_path / "train" / "reference").glob("*.mp4"):
        rate = path.stat().st_size * 8 / 6.0
        assert 0.5 * 19200 < rate < 2.5 * 19200, (path.name, rate)  # 0.1 bpp x 160 x 120 x 10 fps, within the rate control's slack


def test_a_second_copy_of_a_reference_of_another_size_is_drawn_at_the_querys_size():
    plan = plan_corpus(tiny(two_copy_fraction=1.0, no_copy_fraction=0.0, seed=3,
                            splits={"train": {"references": 4, "queries": 6}}))
    mixed = [q for q in plan.queries if len({p.reference.size for p in q.copies}) > 1]
    assert mixed  # the case that broke rendering: two references of different frame sizes in one query
    for q in mixed:
        assert {f.shape[:2] for f in q.frames(with_edits=False)} == {(q.size[1], q.size[0])}
