"""The FIVR-shaped demo: labels by construction, disjoint splits, deterministic files."""

from __future__ import annotations

import json

import numpy as np
import pytest

from video_similarity.demo.corpus import ReferenceSpec
from video_similarity.demo.fivr import plan_fivr_demo, write_fivr_demo
from video_similarity.demo.params import FivrDemoConfig
from video_similarity.demo.scenes import PhotoScene
from video_similarity.metrics.fivr import load_annotation, read_id_list

TINY = dict(
    query_sets={"eval": 2, "train": 1}, per_set={"ND": 1, "DS": 1, "CS": 1, "IS": 1}, distractors={"eval": 2, "train": 1},
    query_duration=(2.0, 3.0), copy_duration=(1.0, 1.5), filler_duration=(1.0, 1.0), distractor_duration=(2.0, 2.0),
    sizes=((64, 48),), frame_rates=(5.0,),
)


def photo_of(spec) -> str | None:
    scene = spec.scene if isinstance(spec, ReferenceSpec) else None
    return scene.photo if isinstance(scene, PhotoScene) else None


def test_labels_follow_the_construction():
    plan = plan_fivr_demo(FivrDemoConfig(per_set={"ND": 2, "DS": 2, "CS": 2, "IS": 2}))
    videos = {v.video_id: v for v in plan.videos}
    assert len(videos) == len(plan.videos), "video ids are unique"
    assert len(plan.annotation) == 12 and set(plan.lists["queries"]) | set(plan.lists["train_queries"]) == set(plan.annotation)
    for query_id, labels in plan.annotation.items():
        query = videos[query_id]
        assert set(labels) == {"ND", "DS", "CS", "IS"} and all(len(v) == 2 for v in labels.values())
        for nd in labels["ND"]:  # the whole query, re-rendered with edits
            (piece,) = videos[nd].pieces
            assert piece.reference is query and piece.ref_start == 0 and videos[nd].edits
        for ds in labels["DS"]:  # a segment of the query inside other footage
            spec = videos[ds]
            copies = [p for p in spec.pieces if p.reference is not None]
            assert len(copies) == 1 and copies[0].reference is query and len(spec.pieces) == 3
            assert all(getattr(p.scene, "photo", None) != photo_of(query) for p in spec.pieces if p.reference is None)
        for cs in labels["CS"]:  # same photo, another camera path, same duration
            assert photo_of(videos[cs]) == photo_of(query) and videos[cs].scene != query.scene
            assert videos[cs].scene.duration == query.scene.duration
        for is_ in labels["IS"]:  # same photo, a tight view of another part
            scene = videos[is_].scene
            assert photo_of(videos[is_]) == photo_of(query) and max(scene.zoom_start, scene.zoom_end) < 0.5
            assert np.all(np.sign(np.asarray(scene.center_start) - 0.5) != np.sign(np.asarray(query.scene.center_start) - 0.5))


def test_query_photos_are_unique_and_distractors_unrelated():
    plan = plan_fivr_demo(FivrDemoConfig())
    videos = {v.video_id: v for v in plan.videos}
    query_photos = [photo_of(videos[q]) for q in plan.annotation]
    assert len(set(query_photos)) == len(query_photos)
    related = {v for labels in plan.annotation.values() for ids in labels.values() for v in ids} | set(plan.annotation)
    for video in plan.videos:
        if video.video_id not in related:
            assert isinstance(video, ReferenceSpec) and photo_of(video) not in query_photos


def test_lists_split_eval_from_train():
    plan = plan_fivr_demo(FivrDemoConfig())
    queries, database, train = (set(plan.lists[k]) for k in ("queries", "database", "train"))
    assert not queries & database and not (queries | database) & train
    for q in queries:
        assert {v for ids in plan.annotation[q].values() for v in ids} <= database
    assert set(plan.lists["train_queries"]) <= train


def test_plan_is_deterministic_and_validated():
    assert plan_fivr_demo(FivrDemoConfig(seed=3)) == plan_fivr_demo(FivrDemoConfig(seed=3))
    assert plan_fivr_demo(FivrDemoConfig(seed=3)).annotation == plan_fivr_demo(FivrDemoConfig(seed=4)).annotation  # ids, not content
    with pytest.raises(ValueError, match=r"retrieval.demo: unknown key\(s\) \['sets'\]"):
        FivrDemoConfig.from_params({"sets": 3})
    with pytest.raises(ValueError, match="labels"):
        FivrDemoConfig.from_params({"per_set": {"XX": 1}})
    with pytest.raises(ValueError, match="at most"):
        FivrDemoConfig.from_params({"query_sets": {"eval": 10, "train": 10}})


def test_written_dataset_reads_back_in_the_fivr_format(tmp_path):
    config = FivrDemoConfig.from_params(TINY)
    plan = plan_fivr_demo(config)
    root = write_fivr_demo(plan, tmp_path / "fivr", workers=1)
    files = sorted(p.stem for p in (root / "videos").glob("*.mp4"))
    assert files == sorted(v.video_id for v in plan.videos)
    assert load_annotation(root / "annotation.json") == plan.annotation
    for name in ("queries", "database", "train", "train_queries"):
        assert read_id_list(root / f"{name}.txt") == plan.lists[name]
    stamp = (root / "videos" / files[0]).with_suffix(".mp4").stat().st_mtime_ns
    write_fivr_demo(plan, root, workers=1)  # current: nothing is re-rendered
    assert (root / "videos" / files[0]).with_suffix(".mp4").stat().st_mtime_ns == stamp
    assert json.loads((root / "demo_fivr.json").read_text())["fingerprint"] == config.fingerprint()
