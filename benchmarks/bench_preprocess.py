"""Preprocess throughput next to plain PyAV decode-all throughput, on the same files, in one run.

    make bench            (or: .venv/bin/python benchmarks/bench_preprocess.py --help)

Throughput is video seconds per wall-clock second. "decode-all" opens each file
with PyAV and decodes every frame in one process, converting nothing: the cost
any frame sampler must pay. "preprocess" is the real pipeline step (sampling at
1 fps, resizing, JPEG, zip) on all cores. Goal: preprocess >= 0.8 x decode-all.

``--ranks 1 2`` also runs preprocess through torchrun (``preprocess.launcher:
torchrun``, one host, that many ranks, each with its share of the cores) on the
same videos, next to the pool: wall time including torchrun's start-up, the
slowest rank's decoding time, and the throughput of each.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

GOAL = 0.8


def decode_all(paths: list[str]) -> float:
    import av

    started = time.perf_counter()
    for path in paths:
        with av.open(path) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for _ in container.decode(stream):
                pass
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=24, help="reference videos to generate (queries: as many)")
    parser.add_argument("--workers", type=int, default=None, help="preprocess processes (default: all cores)")
    parser.add_argument("--corpus", default="data/01_raw/bench", help="where the benchmark corpus is built (reused)")
    parser.add_argument("--output", default="data/08_reporting/bench/preprocess.json")
    parser.add_argument("--ranks", type=int, nargs="*", default=[], help="also through torchrun with this many ranks (e.g. 1 2)")
    args = parser.parse_args()

    from video_similarity.demo.corpus import plan_corpus, write_corpus
    from video_similarity.demo.params import DemoCorpusConfig, SplitSize
    from video_similarity.frames.archive import ArchiveSettings
    from video_similarity.frames.preprocess import preprocess_videos
    from video_similarity.frames.preprocess_job import preprocess_with_torchrun
    from video_similarity.ingest.vsc_layout import index_vsc_layout

    config = DemoCorpusConfig(seed=123, splits={"bench": SplitSize(args.videos, args.videos)})
    write_corpus(plan_corpus(config), args.corpus)
    index = index_vsc_layout(args.corpus).videos
    seconds = float(index["duration"].sum())
    paths = index["path"].tolist()

    decode_all(paths[:2])  # warm the page cache and the codec libraries
    decode_time = decode_all(paths)
    preprocess_time, _ = timed(lambda store: preprocess_videos(index, store, ArchiveSettings(), workers=args.workers, only_missing=False))
    ranks = {n: timed(lambda store, n=n: preprocess_with_torchrun(index, store, ArchiveSettings(), args.workers, False, {"nproc_per_node": n}))
             for n in args.ranks}

    result = {
        "videos": len(paths),
        "video_seconds": round(seconds, 1),
        "cores": os.cpu_count(),
        "decode_all": {"seconds": round(decode_time, 2), "video_seconds_per_second": round(seconds / decode_time, 1)},
        "preprocess": {"seconds": round(preprocess_time, 2), "video_seconds_per_second": round(seconds / preprocess_time, 1)},
        "ratio": round(decode_time / preprocess_time, 2),
        "goal": GOAL,
    }
    result["meets_goal"] = result["ratio"] >= GOAL
    if ranks:
        result["torchrun"] = {n: {"seconds": round(wall, 2), "slowest_rank_seconds": report["elapsed_seconds"],
                                  "videos_per_second": round(len(paths) / wall, 2)} for n, (wall, report) in ranks.items()}
        result["pool_videos_per_second"] = round(len(paths) / preprocess_time, 2)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(result, indent=2))
    print(f"\n{len(paths)} videos, {seconds:.0f} s of video, {os.cpu_count()} cores")
    print(f"{'step':<28}{'wall s':>8}{'video s / s':>14}")
    print(f"{'PyAV decode-all (1 process)':<28}{decode_time:>8.2f}{seconds / decode_time:>14.1f}")
    print(f"{'preprocess (all cores)':<28}{preprocess_time:>8.2f}{seconds / preprocess_time:>14.1f}")
    verdict = "meets" if result["meets_goal"] else "MISSES"
    print(f"preprocess / decode-all = {result['ratio']:.2f} ({verdict} the goal of {GOAL}); written to {args.output}")
    if ranks:
        print(f"\n{'launcher':<28}{'wall s':>8}{'slowest rank s':>16}{'videos / s':>12}{'video s / s':>13}")
        print(f"{'pool (all cores)':<28}{preprocess_time:>8.2f}{'':>16}{len(paths) / preprocess_time:>12.2f}{seconds / preprocess_time:>13.1f}")
        for n, (wall, report) in ranks.items():
            label = f"torchrun, {n} rank{'s' if n > 1 else ''}"
            print(f"{label:<28}{wall:>8.2f}{report['elapsed_seconds']:>16.2f}{len(paths) / wall:>12.2f}{seconds / wall:>13.1f}")


def timed(run) -> tuple[float, dict]:
    """Wall seconds of ``run(store)`` into a fresh archive store (removed afterwards), and its report; every video must be ok."""
    store = Path(tempfile.mkdtemp(prefix="bench_archives_"))
    try:
        started = time.perf_counter()
        manifest, report = run(store)
        elapsed = time.perf_counter() - started
    finally:
        shutil.rmtree(store, ignore_errors=True)
    assert (manifest["status"] == "ok").all(), manifest[manifest["status"] != "ok"]
    return elapsed, report


if __name__ == "__main__":
    main()
