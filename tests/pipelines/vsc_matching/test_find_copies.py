"""kedro find-copies / add-references / remove-references as a user runs them, on conf/test's copy index (after vsc_matching)."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.pipelines.conftest import run_pipeline
from video_similarity.vsc.copies.index import open_index

TN = "find_copies.localizer=tn"  # conf/test's alignment network trains 2 epochs on 60 pairs; TN needs no training


def kedro(project: Path, *args: str, timeout: int = 240) -> subprocess.CompletedProcess:
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "1"}
    return subprocess.run([sys.executable, "-m", "kedro", *args, "--env", "test"], cwd=project, capture_output=True, text=True,
                          timeout=timeout, env=env)


def _blocks(rng, n: int, h: int = 72, w: int = 96) -> list[np.ndarray]:
    return [np.kron(rng.integers(0, 256, (h // 8, w // 8, 3)), np.ones((8, 8, 1))).astype(np.uint8) for _ in range(n)]


@pytest.fixture(scope="module")
def uploads(demo_run) -> dict[str, Path]:
    """The copy index of conf/test, and a user's files: a cut of a test reference with an edit, a copy-free video, broken ones."""
    from video_similarity.video.decode import sample_frames
    from video_similarity.video.edits import Brightness
    from video_similarity.video.encode import write_video

    run_pipeline(demo_run, "vsc_matching")
    folder = demo_run / "uploads"
    folder.mkdir(exist_ok=True)
    rng = np.random.default_rng(7)
    reference = next(iter(sorted((demo_run / "data/01_raw/test_demo/test/reference").glob("*.mp4"))))
    frames = [f.image for f in sample_frames(reference, fps=10.0)]
    h, w = frames[0].shape[:2]
    edit = Brightness(1.3, 0.9)
    files = {"reference": reference, "copy": folder / "copy.mp4", "free": folder / "free.mp4", "short": folder / "short.mp4",
             "empty": folder / "empty.mp4", "text": folder / "notes.mp4", "no_videos": folder / "no_videos", "missing": folder / "missing.mp4"}
    write_video(files["copy"], _blocks(rng, 20, h, w) + [edit(f, i) for i, f in enumerate(frames)], 10.0)  # 2 s of filler, then the reference
    write_video(files["free"], _blocks(rng, 40), 10.0)
    write_video(files["short"], _blocks(rng, 5), 10.0)
    files["empty"].write_bytes(b"")
    files["text"].write_text("not a video")
    files["no_videos"].mkdir(exist_ok=True)
    (files["no_videos"] / "readme.txt").write_text("x")
    return files


def test_a_cut_of_a_reference_is_found_at_overlapping_times_and_a_copy_free_video_is_not(uploads):
    project = uploads["copy"].parents[1]
    done = kedro(project, "find-copies", str(uploads["copy"]), str(uploads["free"]), "--format", "json", "--params", TN)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)  # stdout is the JSON document alone: logs go to stderr
    assert [d["video"] for d in doc] == [str(uploads["copy"]), str(uploads["free"])]
    best = doc[0]["matches"][0]
    assert best["ref_id"] == uploads["reference"].stem and best["ref_path"] == str(uploads["reference"])
    assert best["query_start"] < 7.0 and best["query_end"] > 2.0  # the copy spans the query's 2-7 s
    assert best["ref_start"] < 5.0 and best["ref_end"] > 0.0
    assert doc[1]["matches"] == []
    csv = kedro(project, "find-copies", str(uploads["copy"]), "--format", "csv", "--params", TN)
    rows = pd.read_csv(pd.io.common.StringIO(csv.stdout))
    assert rows["ref_id"].tolist() == [m["ref_id"] for m in doc[0]["matches"]]
    np.testing.assert_allclose(rows["query_start"], [m["query_start"] for m in doc[0]["matches"]], atol=1e-3)
    free = kedro(project, "find-copies", str(uploads["free"]), "--params", TN)
    assert free.returncode == 1 and "0 copied segments" in free.stdout


def test_each_bad_input_is_one_line_and_the_others_are_answered(uploads):
    project = uploads["copy"].parents[1]
    bad = [uploads[k] for k in ("missing", "text", "empty", "short", "no_videos")]
    done = kedro(project, "find-copies", *map(str, bad), str(uploads["copy"]), "--params", TN)
    assert done.returncode == 0, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 5 and "Traceback" not in done.stderr
    for path, line in zip(bad, sorted(errors, key=lambda e: [str(p) in e for p in bad].index(True))):
        assert str(path) in line
    assert "no such file" in done.stderr and "not a readable media file" in done.stderr and "empty" in done.stderr
    assert "shorter than 1 s" in done.stderr and "a folder with no videos" in done.stderr
    assert "copy.mp4: 1 copied segment" in done.stdout or "copy.mp4: 2 copied segments" in done.stdout
    alone = kedro(project, "find-copies", *map(str, bad))
    assert alone.returncode == 2 and "Traceback" not in alone.stderr


def test_a_second_call_reuses_the_embeddings_and_a_changed_file_is_embedded_again(uploads, tmp_path):
    from video_similarity.video.encode import write_video
    from video_similarity.vsc.copies.inputs import query_id

    project = uploads["copy"].parents[1]
    video = project / "uploads" / "again.mp4"
    write_video(video, _blocks(np.random.default_rng(1), 30), 10.0)
    assert kedro(project, "find-copies", str(video)).returncode in (0, 1)
    items = sorted((project / "data/04_feature/test/find_copies/embeddings").glob(f"*/{query_id(video)}.npz"))
    assert items
    made = [p.stat().st_mtime_ns for p in items]
    assert kedro(project, "find-copies", str(video)).returncode in (0, 1)
    assert [p.stat().st_mtime_ns for p in items] == made
    write_video(video, _blocks(np.random.default_rng(2), 30), 10.0)
    assert kedro(project, "find-copies", str(video)).returncode in (0, 1)
    assert all(p.stat().st_mtime_ns != m for p, m in zip(items, made))


def test_an_index_made_with_other_settings_or_none_at_all_is_refused(uploads):
    project = uploads["copy"].parents[1]
    stale = kedro(project, "find-copies", str(uploads["copy"]), "--params", "scene_detection.enabled=false")
    assert stale.returncode == 2 and "scene_detection.enabled: true -> false" in stale.stderr
    assert "kedro run --pipeline=vsc_matching --env=test" in stale.stderr and "Traceback" not in stale.stderr
    index = project / "data/06_models/test/copy_index"
    index.rename(index.with_name("copy_index.away"))
    try:
        missing = kedro(project, "find-copies", str(uploads["copy"]))
    finally:
        index.with_name("copy_index.away").rename(index)
    assert missing.returncode == 2 and "no copy index is built" in missing.stderr
    assert "kedro run --pipeline=vsc_descriptor --env=test then kedro run --pipeline=vsc_matching --env=test" in missing.stderr


def _new_reference(project: Path, name: str, seconds: int, seed: int) -> tuple[Path, Path]:
    """A new reference video of ``seconds`` and a query copying its seconds 2-8 (brightened), after 2 s of other footage."""
    from video_similarity.video.edits import Brightness
    from video_similarity.video.encode import write_video

    rng = np.random.default_rng(seed)
    frames = _blocks(rng, seconds * 10)
    reference, query = project / "new_refs" / f"{name}.mp4", project / "uploads" / f"copy_of_{name}.mp4"
    reference.parent.mkdir(exist_ok=True)
    write_video(reference, frames, 10.0)
    write_video(query, _blocks(rng, 20) + [Brightness(1.2, 1.0)(f, i) for i, f in enumerate(frames[20:80])], 10.0)
    return reference, query


def test_an_added_reference_is_found_and_a_removed_one_is_not(uploads):
    project = uploads["copy"].parents[1]
    reference, query = _new_reference(project, "N900001", 10, 11)
    before = json.loads(kedro(project, "find-copies", str(query), "--format", "json", "--params", TN).stdout)
    assert all(m["ref_id"] != "N900001" for m in before[0]["matches"])
    added = kedro(project, "add-references", str(reference))
    assert added.returncode == 0 and "added 1 reference(s): N900001" in added.stdout, added.stderr
    after = kedro(project, "find-copies", str(query), "--format", "json", "--params", TN)
    assert after.returncode == 0
    best = json.loads(after.stdout)[0]["matches"][0]
    assert best["ref_id"] == "N900001" and best["query_start"] < 8.0 and best["query_end"] > 2.0 and best["ref_end"] > 2.0
    again = kedro(project, "add-references", str(reference))
    assert again.returncode == 0 and "1 already in the index, unchanged" in again.stdout
    _new_reference(project, "N900001", 10, 13)  # the file changes: it is processed again
    changed = kedro(project, "add-references", str(reference))
    assert changed.returncode == 0 and "added 1 reference(s): N900001" in changed.stdout
    reference, query = _new_reference(project, "N900001", 10, 11)  # back to the first content
    assert "added 1 reference(s)" in kedro(project, "add-references", str(reference)).stdout
    clash = kedro(project, "add-references", str(uploads["reference"]))  # a dataset reference's id
    assert clash.returncode == 2 and "is a reference of the dataset" in clash.stderr
    removed = kedro(project, "remove-references", "N900001", "NOPE")
    assert removed.returncode == 0 and "removed 1 reference(s): N900001" in removed.stdout and "NOPE: no reference" in removed.stderr
    gone = json.loads(kedro(project, "find-copies", str(query), "--format", "json", "--params", TN).stdout)
    assert all(m["ref_id"] != "N900001" for m in gone[0]["matches"])
    assert kedro(project, "remove-references", "NOPE").returncode == 2


def test_add_references_killed_at_any_point_leaves_the_old_or_the_new_index(uploads):
    project = uploads["copy"].parents[1]
    root = project / "data/06_models/test/copy_index"
    old = set(open_index(root).references["ref_id"])
    reference, _ = _new_reference(project, "N900002", 12, 12)
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "1"}
    for delay in (0.5, 1.5, 2.5, 3.5, 4.5):
        process = subprocess.Popen([sys.executable, "-m", "kedro", "add-references", str(reference), "--env", "test"], cwd=project,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, start_new_session=True)
        time.sleep(delay)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        index = open_index(root)  # whole: its files agree (open_index checks), and it is one of the two
        assert set(index.references["ref_id"]) in (old, old | {"N900002"})
        assert index.index.ntotal == len(index.descriptors)
    finished = kedro(project, "add-references", str(reference))
    assert finished.returncode == 0
    assert set(open_index(root).references["ref_id"]) == old | {"N900002"}


def test_a_rebuild_keeps_what_users_added_and_removed(uploads):
    project = uploads["copy"].parents[1]
    root = project / "data/06_models/test/copy_index"
    dataset_ref = sorted((project / "data/01_raw/test_demo/test/reference").glob("*.mp4"))[-1].stem
    assert kedro(project, "remove-references", dataset_ref).returncode == 0
    replacement, _ = _new_reference(project, dataset_ref, 6, 14)  # a new video under the removed reference's id
    assert kedro(project, "add-references", str(replacement)).returncode == 0
    run_pipeline(project, "vsc_matching", node_names=["build_copy_index"])
    index = open_index(root)
    refs = index.references.set_index("ref_id")
    assert "N900002" in refs.index and "N900001" not in refs.index
    assert refs.loc[dataset_ref, "origin"] == "added" and refs.loc[dataset_ref, "path"] == str(replacement.resolve())
    assert dataset_ref in index.manifest["removed"]
    report = kedro(project, "find-copies", str(uploads["copy"]), "--params", TN, "--report", str(project / "copy_report"))
    assert report.returncode == 0
    text = (project / "copy_report" / "index.md").read_text()
    figures = sorted((project / "copy_report").glob("*.png"))
    assert figures and all(f.name in text for f in figures)
