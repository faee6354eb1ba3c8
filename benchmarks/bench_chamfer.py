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
from tqdm.auto import tqdm

METHODS = ("video_level", "chamfer", "symmetric_chamfer", "topk_chamfer")


def peak_rss_mib() -> float:
    """This process's peak resident memory: VmHWM, which a started process does not inherit (ru_maxrss keeps its parent's)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
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


FIVR200K_VIDEOS = 225_960
POOL_ROWS = 1 << 20  # unit rows the synthetic FIVR-200K videos are cut from (the cost depends only on the shapes)


def fivr_lengths(n: int, rng: np.random.Generator) -> np.ndarray:
    """Frames per video at 1 fps, drawn like FIVR's durations: log-normal around 100 s, 10 s to 10 min."""
    return np.clip(np.rint(rng.lognormal(np.log(85.0), 0.6, size=n)), 10, 600).astype(np.int64)


def make_fivr200k(folder: Path, queries: int, videos: int, dim: int, storage: str, rng: np.random.Generator) -> dict:
    """The database as the pipeline stores it (retrieval/shards.py), the queries as float32 .npy files."""
    from video_similarity.retrieval.shards import write_shards

    pool = rng.standard_normal((POOL_ROWS, dim), dtype=np.float32)
    pool /= np.linalg.norm(pool, axis=1, keepdims=True)
    lengths = fivr_lengths(videos + queries, rng)

    def cut(n: int) -> np.ndarray:
        start = int(rng.integers(0, POOL_ROWS - n))
        return pool[start : start + n]

    meta = write_shards(folder / "shards", ((f"V{i:06d}", cut(int(n))) for i, n in enumerate(tqdm(lengths[:videos], desc="writing shards"))), storage)
    np.save(folder / "queries.npy", np.concatenate([cut(int(n)) for n in lengths[videos:]]))
    np.save(folder / "queries_lengths.npy", lengths[videos:])
    return meta


def rerank_worker(folder: Path, method: str, k: int, fraction: float, top_n: int | None) -> None:
    """Prefilter + re-rank of the saved queries against the shards; prints one JSON line."""
    from video_similarity.metrics.similarity import pair_similarity
    from video_similarity.retrieval.rerank import prefilter_rerank, rerank_count
    from video_similarity.retrieval.shards import FrameShards

    queries = load_videos(folder / "queries", "Q")
    shards = FrameShards.open(folder / "shards")
    started = time.perf_counter()
    scores = prefilter_rerank(queries, shards, method, k, fraction, top_n, progress=True)
    seconds = time.perf_counter() - started
    checks = []
    for q in list(queries)[:3]:  # the best-ranked video of a query carries its frame-level score
        best = max(scores[q], key=scores[q].get)
        checks.append(abs(scores[q][best] - pair_similarity(queries[q], shards.rows(shards.video_ids.index(best)), method, k)))
    print(json.dumps({"seconds": round(seconds, 2), "reranked_per_query": rerank_count(len(shards), fraction, top_n),
                      "peak_rss_mib": round(peak_rss_mib(), 1), "max_abs_error_vs_pair_similarity": float(f"{max(checks):.2e}")}))


def fivr200k(args) -> None:
    """100 queries x 225,960 videos: prefilter + re-rank at conf/base's fraction, next to exhaustive Chamfer timed on a 1% sample."""
    import yaml

    similarity = yaml.safe_load((Path(__file__).resolve().parents[1] / "conf/base/parameters_retrieval.yml").read_text())["retrieval"]["similarity"]
    fraction = args.fraction if args.fraction is not None else similarity["rerank_fraction"]
    top_n, storage = similarity["rerank_top_n"], similarity["rerank_storage"]
    work = Path(tempfile.mkdtemp(prefix="bench_fivr200k_"))
    try:
        rng = np.random.default_rng(args.seed)
        started = time.perf_counter()
        meta = make_fivr200k(work, args.queries, args.videos, args.dim, storage, rng)
        made = time.perf_counter() - started
        print(f"FIVR-200K-sized database: {meta['videos']:,} videos, {meta['rows']:,} frames, {storage} shards "
              f"({sum(p.stat().st_size for p in (work / 'shards').glob('shard_*.npy')) / 2**30:.1f} GiB), made in {made:.0f} s", flush=True)
        command = [sys.executable, __file__, "--rerank-worker", str(work), "chamfer", "--k", str(args.k), "--fraction", str(fraction)]
        if top_n is not None:
            command += ["--top-n", str(top_n)]
        rerank = json.loads(subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True).stdout.strip().splitlines()[-1])
        # exhaustive Chamfer on a 1% sample of the same database, scaled to the whole: what the re-ranking replaces
        sample = max(1, args.videos // 100)
        shutil.rmtree(work / "sample", ignore_errors=True)
        (work / "sample").mkdir()
        from video_similarity.retrieval.shards import FrameShards

        shards = FrameShards.open(work / "shards")
        rows = [shards.rows(i) for i in range(sample)]
        np.save(work / "sample" / "database.npy", np.concatenate(rows))
        np.save(work / "sample" / "database_lengths.npy", np.array([len(r) for r in rows]))
        shutil.copy(work / "queries.npy", work / "sample" / "queries.npy")
        shutil.copy(work / "queries_lengths.npy", work / "sample" / "queries_lengths.npy")
        out = subprocess.run([sys.executable, __file__, "--worker", str(work / "sample"), "chamfer", "--k", str(args.k)],
                             check=True, stdout=subprocess.PIPE, text=True).stdout
        exhaustive = json.loads(out.strip().splitlines()[-1])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    estimate = args.queries * args.videos / exhaustive["pairs_per_second"]
    result = {"queries": args.queries, "videos": args.videos, "database_frames": meta["rows"], "storage": storage, "fraction": fraction,
              "top_n": top_n, "prefilter_rerank": rerank, "exhaustive_chamfer_sample": {"videos": sample, **exhaustive},
              "exhaustive_chamfer_estimate_s": round(estimate, 1)}
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(result, indent=2))
    print(f"\nFIVR-200K case: {args.queries} queries x {args.videos:,} videos ({meta['rows']:,} frames, {storage}): prefilter + re-rank "
          f"(chamfer on the top {fraction:g}, {rerank['reranked_per_query']:,} videos per query) {rerank['seconds']:.0f} s, peak RSS "
          f"{rerank['peak_rss_mib'] / 1024:.2f} GiB; exhaustive Chamfer estimated at {estimate / 60:.0f} min from a {sample:,}-video sample "
          f"({exhaustive['pairs_per_second']:.0f} pairs/s)")
    print(f"written to {args.output}")


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
    parser.add_argument("--fivr200k", action="store_true", help="the FIVR-200K case: prefilter + re-rank over 225,960 videos (100 queries)")
    parser.add_argument("--fraction", type=float, default=None, help="--fivr200k: the re-ranked share (default: conf/base's)")
    parser.add_argument("--worker", nargs=2, metavar=("FOLDER", "METHOD"), help=argparse.SUPPRESS)
    parser.add_argument("--rerank-worker", nargs=2, metavar=("FOLDER", "METHOD"), help=argparse.SUPPRESS)
    parser.add_argument("--top-n", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(Path(args.worker[0]), args.worker[1], args.k, args.chunk_frames)
        return
    if args.rerank_worker:
        rerank_worker(Path(args.rerank_worker[0]), args.rerank_worker[1], args.k, args.fraction, args.top_n)
        return
    if args.fivr200k:
        args.queries = 100 if args.queries == 50 else args.queries
        args.videos = FIVR200K_VIDEOS if args.videos == 5000 else args.videos
        args.output = args.output.replace("chamfer.json", "chamfer_fivr200k.json")
        fivr200k(args)
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
