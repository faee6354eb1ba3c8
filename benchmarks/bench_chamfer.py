"""Throughput and memory of the batched video similarity engine (metrics.similarity) at FIVR-5K scale.

    .venv/bin/python benchmarks/bench_chamfer.py            (50 queries x 5,000 videos, D = 512)
    .venv/bin/python benchmarks/bench_chamfer.py --quick    (500 videos, a smoke run)

Features are synthetic, seeded and L2-normalised: FIVR-5K has 50 queries and 5,000 database
videos with a mean duration of 107 s, so at 1 fps each video gets a uniform 40..175 frames. The
cost depends only on the shapes, not on the values. Each method runs in its own subprocess on the
same features (saved once to a temporary folder), so its peak RSS (resource.getrusage) is its own:
the features held in memory plus the engine's working memory. A few pairs are re-checked against
``pair_similarity``.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

METHODS = ("video_level", "chamfer", "symmetric_chamfer", "topk_chamfer")


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def make_features(path: Path, n: int, min_frames: int, max_frames: int, dim: int, rng: np.random.Generator) -> int:
    """Writes ``path``.npy (all frames, L2-normalised rows) and ``path``_lengths.npy; returns the frame count."""
    lengths = rng.integers(min_frames, max_frames + 1, size=n)
    frames = np.lib.format.open_memmap(f"{path}.npy", mode="w+", dtype=np.float32, shape=(int(lengths.sum()), dim))
    for start in range(0, len(frames), 65536):
        block = rng.standard_normal((min(65536, len(frames) - start), dim), dtype=np.float32)
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        frames[start : start + len(block)] = block
    frames.flush()
    np.save(f"{path}_lengths.npy", lengths)
    return len(frames)


def load_videos(path: Path, prefix: str) -> dict[str, np.ndarray]:
    frames, lengths = np.load(f"{path}.npy"), np.load(f"{path}_lengths.npy")
    bounds = np.concatenate([[0], np.cumsum(lengths)])
    return {f"{prefix}{i:05d}": frames[a:b] for i, (a, b) in enumerate(zip(bounds[:-1], bounds[1:]))}


def worker(folder: Path, method: str, k: int, chunk_frames: int) -> None:
    """One method on the saved features; prints one JSON line."""
    from video_similarity.metrics.similarity import pair_similarity, similarity_matrix

    queries, database = load_videos(folder / "queries", "Q"), load_videos(folder / "database", "V")
    loaded_rss = peak_rss_mib()
    started = time.perf_counter()
    scores = similarity_matrix(queries, database, method, k=k, chunk_frames=chunk_frames, progress=True)
    seconds = time.perf_counter() - started
    rng = np.random.default_rng(1)
    checks = [(str(rng.choice(list(queries))), str(rng.choice(list(database)))) for _ in range(5)]
    error = max(abs(scores[q][v] - pair_similarity(queries[q], database[v], method, k)) for q, v in checks)
    pairs = len(queries) * len(database)
    print(json.dumps({
        "seconds": round(seconds, 2),
        "pairs_per_second": round(pairs / seconds, 1),
        "rss_after_loading_mib": round(loaded_rss, 1),
        "peak_rss_mib": round(peak_rss_mib(), 1),
        "max_abs_error_vs_pair_similarity": float(f"{error:.2e}"),
    }))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--videos", type=int, default=5000, help="database videos")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 500 database videos")
    parser.add_argument("--dim", type=int, default=512, help="feature dimension (e.g. 512 or 2048)")
    parser.add_argument("--min-frames", type=int, default=40)
    parser.add_argument("--max-frames", type=int, default=175)
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--k", type=int, default=3, help="top-k Chamfer's k")
    parser.add_argument("--chunk-frames", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default="data/08_reporting/bench/chamfer.json")
    parser.add_argument("--worker", nargs=2, metavar=("FOLDER", "METHOD"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(Path(args.worker[0]), args.worker[1], args.k, args.chunk_frames)
        return
    if args.quick:
        args.videos = 500

    work = Path(tempfile.mkdtemp(prefix="bench_chamfer_"))
    try:
        rng = np.random.default_rng(args.seed)
        started = time.perf_counter()
        query_frames = make_features(work / "queries", args.queries, args.min_frames, args.max_frames, args.dim, rng)
        database_frames = make_features(work / "database", args.videos, args.min_frames, args.max_frames, args.dim, rng)
        features_mib = (query_frames + database_frames) * args.dim * 4 / 2**20
        print(f"features: {args.queries} queries ({query_frames} frames) x {args.videos} videos ({database_frames} frames), "
              f"D={args.dim}, {features_mib:.0f} MiB, made in {time.perf_counter() - started:.1f} s", flush=True)
        result: dict = {
            "queries": args.queries, "videos": args.videos, "pairs": args.queries * args.videos,
            "query_frames": query_frames, "database_frames": database_frames, "dim": args.dim,
            "frames_per_video": [args.min_frames, args.max_frames], "k": args.k, "chunk_frames": args.chunk_frames,
            "features_mib": round(features_mib, 1), "methods": {},
        }
        for method in args.methods.split(","):
            command = [sys.executable, __file__, "--worker", str(work), method, "--k", str(args.k),
                       "--chunk-frames", str(args.chunk_frames)]
            out = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True).stdout
            result["methods"][method] = json.loads(out.strip().splitlines()[-1])
    finally:
        shutil.rmtree(work, ignore_errors=True)

    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(result, indent=2))
    print(f"\n{args.queries} queries x {args.videos} videos = {args.queries * args.videos} pairs, D={args.dim}, "
          f"{database_frames} database frames, features {features_mib:.0f} MiB")
    print(f"{'method':<20}{'wall s':>9}{'pairs / s':>12}{'peak RSS MiB':>14}{'max |err|':>11}")
    for method, r in result["methods"].items():
        print(f"{method:<20}{r['seconds']:>9.2f}{r['pairs_per_second']:>12.0f}{r['peak_rss_mib']:>14.0f}"
              f"{r['max_abs_error_vs_pair_similarity']:>11.1e}")
    print(f"written to {args.output}")


if __name__ == "__main__":
    main()
