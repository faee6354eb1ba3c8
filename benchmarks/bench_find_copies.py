"""kedro find-copies on a 10-s and a 60-s video against the demo index, next to the same videos' share of a pipeline run.

    .venv/bin/python benchmarks/bench_find_copies.py [--env ENV] [--json OUT]

Needs the demo's copy index (``make demo``). The two videos are made from the
demo's test references (brightened, re-encoded at 25 fps, 320 x 240), so they
hold copies. Each is answered by the command itself (a subprocess, as a user
runs it) twice: cold (nothing cached) and again (its embeddings reused). Time is
split as the command logs it (``-v``): start-up (the process, imports, the
configuration and the index loaded), decoding, embedding (scene detection, the
video score, the members), search and localisation.

The pipeline share: the same two videos and the demo's test queries decoded,
scene-detected, scored and embedded in one batch as ``preprocess`` and
``infer_query`` do (the process pool and one extraction job), the batch's time
per second of video times each video's length. Also: the command's answers on
every test query of the demo against its ground truth (pair precision and
recall at the index's threshold). Writes ``data/08_reporting/bench/find_copies.json``.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
KEDRO = [sys.executable, "-m", "kedro"]
STAGES = ("decode", "embed", "search", "localize")


def make_videos(references: list[Path], folder: Path) -> dict[str, Path]:
    """A 10-s and a 60-s query: demo references (brightened), one after another, at 25 fps."""
    from PIL import Image

    from video_similarity.video.decode import sample_frames
    from video_similarity.video.encode import write_video

    frames: list[np.ndarray] = []
    for reference in references:
        for frame in sample_frames(reference, fps=25.0):
            image = Image.fromarray(frame.image).resize((320, 240))
            frames.append(np.clip(np.asarray(image, dtype=np.float32) * 1.15, 0, 255).astype(np.uint8))
        if len(frames) >= 60 * 25:
            break
    if len(frames) < 60 * 25:
        raise SystemExit("the demo's references are too short for a 60-s video")
    videos = {"10s": folder / "bench_10s.mp4", "60s": folder / "bench_60s.mp4"}
    write_video(videos["10s"], frames[: 10 * 25], 25.0, quality=4)
    write_video(videos["60s"], frames[: 60 * 25], 25.0, quality=4)
    return videos


def command(video: Path, env: str | None) -> dict:
    """One find-copies call: its wall time, its stages' times and its exit status."""
    args = [*KEDRO, "find-copies", str(video), "--format", "json", "-v"] + (["--env", env] if env else [])
    started = time.perf_counter()
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, env={**os.environ, "KEDRO_DISABLE_TELEMETRY": "1"})
    wall = time.perf_counter() - started
    found = re.search(r"Timings \(s\): (\{.*?\})", done.stderr)
    if done.returncode not in (0, 1) or not found:
        raise SystemExit(f"find-copies failed ({done.returncode}):\n{done.stderr[-2000:]}")
    stages = ast.literal_eval(found.group(1))
    work = sum(stages.get(k, 0.0) for k in STAGES)
    matches = json.loads(done.stdout)[0]["matches"]
    return {"wall_s": round(wall, 3), "start_up_s": round(wall - work, 3), **{f"{k}_s": round(stages.get(k, 0.0), 3) for k in STAGES},
            "work_s": round(work, 3), "matches": len(matches), "exit": done.returncode}


def pipeline_share(videos: dict[str, Path], queries: list[Path], project) -> dict:
    """Decode, scene detection, video score and embedding of the videos and the demo's test queries in one batch, as the pipeline."""
    import pandas as pd

    from video_similarity.frames.preprocess import preprocess_videos
    from video_similarity.video.decode import probe
    from video_similarity.vsc.queries import detect_scene_parts, embed_queries
    from video_similarity.vsc.video_scores import score_queries

    settings = project.settings()
    models = project.models()
    launch = dict(project.params.get("launch") or {})
    paths = {**{f"bench_{k}": v for k, v in videos.items()}, **{q.stem: q for q in queries}}
    seconds = sum(probe(p).duration for p in paths.values())
    scratch = Path(tempfile.mkdtemp(prefix="bench_find_copies_"))
    try:
        table = pd.DataFrame({"video_id": list(paths), "split": "bench", "role": "query", "path": [str(p) for p in paths.values()]})
        clock = time.perf_counter()
        manifest, _ = preprocess_videos(table, scratch / "archives", settings.preprocess.archive_settings(), workers=settings.preprocess.workers)
        decode = time.perf_counter() - clock
        archives = dict(zip(manifest["video_id"], manifest["archive"]))
        clock = time.perf_counter()
        parts = detect_scene_parts(archives, scratch / "parts", settings.scene.thresholds())[0] if settings.scene.enabled else {}
        score_queries(models.vid_score_model, models.settings.video_score_threshold, archives, scratch / "embeddings", launch,
                      settings.inference.batch_size, settings.video_score.batch_size)
        embed_queries(models.ensemble_members, models.settings, models.pca_model, archives, parts, settings.scene.parts_replace_frames,
                      scratch / "embeddings", "bench", settings.inference.batch_size, launch)
        embed = time.perf_counter() - clock
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return {"videos": len(paths), "seconds_of_video": round(seconds, 1), "decode_s": round(decode, 3), "embed_s": round(embed, 3),
            "per_video_second_s": round((decode + embed) / seconds, 4)}


def accuracy(test_queries: Path, env: str | None, ground_truth) -> dict:
    """The command on every test query of the demo: pair precision / recall and flagged videos at the index's threshold."""
    args = [*KEDRO, "find-copies", str(test_queries), "--format", "json"] + (["--env", env] if env else [])
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, env={**os.environ, "KEDRO_DISABLE_TELEMETRY": "1"})
    doc = json.loads(done.stdout)
    positives = set(zip(ground_truth["query_id"], ground_truth["ref_id"]))
    predicted = {(Path(d["video"]).stem, m["ref_id"]) for d in doc for m in d["matches"]}
    copies = {q for q, _ in positives}
    flagged = {Path(d["video"]).stem for d in doc if d["matches"]}
    tp = len(positives & predicted)
    return {"queries": len(doc), "copy_queries": len(copies), "pairs_predicted": len(predicted), "pairs_copied": len(positives),
            "pair_precision": round(tp / max(1, len(predicted)), 4), "pair_recall": round(tp / len(positives), 4),
            "flagged_videos": len(flagged), "flagged_copies": len(flagged & copies),
            "flagged_copy_free": len(flagged - copies)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default=None)
    parser.add_argument("--json", default=str(ROOT / "data/08_reporting/bench/find_copies.json"))
    parser.add_argument("--skip-accuracy", action="store_true", help="time the two videos only")
    parser.add_argument("--accuracy-only", action="store_true", help="the test queries' precision and recall only")
    args = parser.parse_args()

    from kedro.framework.startup import bootstrap_project

    from video_similarity.vsc.copies.commands import Project
    from video_similarity.vsc.copies.service import load_index

    from video_similarity.errors import UserError

    os.chdir(ROOT)
    bootstrap_project(ROOT)
    project = Project(args.env, None, verbose=False)
    folders = project.folders()
    try:
        project.require_index(folders)
        index = load_index(folders, project.models(), project.settings(), args.env)
    except UserError as error:
        print(f"bench_find_copies skipped: {error} (make demo builds the demo's)")
        return
    split = index.manifest.get("split", "test")
    video_index = project.load("video_index")
    test = video_index[video_index["split"] == split]
    references = [Path(p) for p in test.loc[test["role"] == "reference", "path"]]
    queries = [Path(p) for p in test.loc[test["role"] == "query", "path"]][:20]
    work = Path(tempfile.mkdtemp(prefix="bench_videos_"))
    results: dict = {"index_version": index.version, "references": len(index.references), "threshold": index.threshold(project.settings().find.localizer)}
    if args.accuracy_only:
        gt = project.load("matching_ground_truth")
        results["accuracy"] = accuracy(Path(queries[0]).parent, args.env, gt[gt["split"] == split])
        print(json.dumps(results))
        return
    try:
        videos = make_videos(references, work)
        for name, video in videos.items():
            from video_similarity.vsc.copies.inputs import query_id

            for cache in folders.queries.glob(f"**/{query_id(video)}*"):  # cold: nothing of this file cached
                shutil.rmtree(cache) if cache.is_dir() else cache.unlink()
            results[name] = {"cold": command(video, args.env), "cached": command(video, args.env)}
        results["pipeline_share"] = share = pipeline_share(videos, queries, project)
        for name, seconds in (("10s", 10), ("60s", 60)):
            results[name]["pipeline_share_s"] = round(share["per_video_second_s"] * seconds, 3)
        if not args.skip_accuracy:
            gt = project.load("matching_ground_truth")
            results["accuracy"] = accuracy(Path(queries[0]).parent, args.env, gt[gt["split"] == split])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"find-copies against copy index {results['index_version']} ({results['references']} references), threshold {results['threshold']:.4f}")
    print(f"{'video':>6} {'run':>7} {'wall':>7} {'start-up':>9} {'decode':>7} {'embed':>7} {'search':>7} {'localise':>9} {'pipeline share':>15}")
    for name in ("10s", "60s"):
        for run in ("cold", "cached"):
            r = results[name][run]
            print(f"{name:>6} {run:>7} {r['wall_s']:7.2f} {r['start_up_s']:9.2f} {r['decode_s']:7.2f} {r['embed_s']:7.2f} {r['search_s']:7.3f} "
                  f"{r['localize_s']:9.3f} {results[name]['pipeline_share_s']:15.2f}")
    print(f"pipeline batch: {share['videos']} videos, {share['seconds_of_video']} s of video, decode {share['decode_s']:.1f} s + embed "
          f"{share['embed_s']:.1f} s = {share['per_video_second_s'] * 1000:.0f} ms per second of video")
    if "accuracy" in results:
        a = results["accuracy"]
        print(f"test queries: pair precision {a['pair_precision']:.3f}, recall {a['pair_recall']:.3f}; flagged {a['flagged_copies']} of "
              f"{a['copy_queries']} copy queries and {a['flagged_copy_free']} of {a['queries'] - a['copy_queries']} copy-free ones")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
