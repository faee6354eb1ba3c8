"""Candidate search at VSC scale: the exact global top-K next to the configured approximate index, same data, same run.

    .venv/bin/python benchmarks/bench_search.py --refs 200000 --queries 20000 --json OUT.json
    .venv/bin/python benchmarks/bench_search.py --vsc-estimate          (also: the approximate search alone at 1.26M x 0.3M)

The rows are synthetic, seeded, unit 512-d, shaped like VSC descriptors: a video is ``--rows-per-video``
rows around its centre (consecutive seconds look alike), centres around topics (videos of one topic
look alike), and ``--copy-share`` of the query videos are noisy copies of reference videos' rows, the
rest new videos from the same topics (as VSC's queries without a copy). The search is the evaluator's
(spec section 1: K = 1200 x query videos kept, M = 25 x query videos candidate pairs), run through
``metrics.vsc.knn_candidates`` with ``params:search_index`` (conf/base; ``--kind`` / ``--nprobe`` /
``--nlist`` override it, and an ``exact`` or ``auto`` kind there means ivf here). Each search runs in
its own subprocess, so its peak RSS is its own. ``recall`` is the share of the exact search's candidate
pairs that the approximate search also returns. ``approx_s`` includes building the index (IVF: k-means
on a sample, then every reference row assigned to a list); ``search_speedup`` compares the searches
alone, as with an index built once and searched again (infer_ref's ``reference_index``, the copy index).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

DIM = 512
VSC_REFERENCE_ROWS, VSC_QUERY_ROWS = 1_260_000, 300_000  # one VSC-2022 phase: about 40K reference and 8-10K query videos at 1 fps


def peak_rss_gib() -> float:
    """Peak resident memory of this process (bench_chamfer's VmHWM reading: not its parent's, as ru_maxrss would be)."""
    from bench_chamfer import peak_rss_mib

    return peak_rss_mib() / 1024


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def make_rows(folder: Path, refs: int, queries: int, rows_per_video: int, copy_share: float, videos_per_topic: int, seed: int) -> dict:
    """Writes references.npy and queries.npy (memory maps) and returns what they hold."""
    rng = np.random.default_rng(seed)
    ref_videos, query_videos = max(1, refs // rows_per_video), max(1, queries // rows_per_video)
    topics = _unit(rng.standard_normal((max(1, ref_videos // videos_per_topic), DIM), dtype=np.float32))

    def centres(n: int) -> np.ndarray:
        return _unit(topics[rng.integers(0, len(topics), n)] + rng.standard_normal((n, DIM), dtype=np.float32) / np.sqrt(DIM))

    def fill(out: np.ndarray, videos: np.ndarray, first: int) -> None:  # each video's rows: its centre, with noise
        for start in range(0, len(videos), 256):
            rows = np.repeat(videos[start : start + 256], rows_per_video, 0)
            out[first : first + len(rows)] = _unit(rows + 0.5 * rng.standard_normal(rows.shape, dtype=np.float32) / np.sqrt(DIM))
            first += len(rows)

    reference = np.lib.format.open_memmap(folder / "references.npy", mode="w+", dtype=np.float32, shape=(ref_videos * rows_per_video, DIM))
    fill(reference, centres(ref_videos), 0)
    query = np.lib.format.open_memmap(folder / "queries.npy", mode="w+", dtype=np.float32, shape=(query_videos * rows_per_video, DIM))
    copied = np.sort(rng.choice(ref_videos, int(query_videos * copy_share), replace=False))
    for k, video in enumerate(copied):  # a copy: each row of the reference video, with noise
        rows = reference[video * rows_per_video : (video + 1) * rows_per_video]
        query[k * rows_per_video : (k + 1) * rows_per_video] = _unit(rows + 0.5 * rng.standard_normal(rows.shape, dtype=np.float32) / np.sqrt(DIM))
    fill(query, centres(query_videos - len(copied)), len(copied) * rows_per_video)
    reference.flush()
    query.flush()
    return {"reference_rows": len(reference), "query_rows": len(query), "reference_videos": ref_videos, "query_videos": query_videos,
            "copied_videos": len(copied), "rows_per_video": rows_per_video, "topics": len(topics)}


def _descriptors(path: Path, prefix: str, rows_per_video: int):
    from video_similarity.descriptors import Descriptors

    features = np.load(path, mmap_mode="r")
    videos = len(features) // rows_per_video
    ids = np.repeat(np.array([f"{prefix}{i:07d}" for i in range(videos)]), rows_per_video)
    return Descriptors(ids, np.tile(np.arange(rows_per_video, dtype=np.float32), videos), features)


def worker(folder: Path, search: dict, rows_per_video: int, out: Path) -> None:
    """One candidate search on the saved rows; writes its candidates and prints one JSON line."""
    from video_similarity.metrics.vsc import knn_candidates
    from video_similarity.params import SearchIndexParams
    from video_similarity.search_index import build_index, describe

    params = SearchIndexParams.from_params(search)
    queries, references = _descriptors(folder / "queries.npy", "Q", rows_per_video), _descriptors(folder / "references.npy", "R", rows_per_video)
    started = time.perf_counter()
    index = build_index(references.features, params)  # timed alone too: what a built index (infer_ref's) saves each search
    build_s = time.perf_counter() - started
    kind = describe(index)
    del index
    started = time.perf_counter()
    candidates = knn_candidates(queries, references, search=params)
    seconds = time.perf_counter() - started
    candidates.to_parquet(out)
    print(json.dumps({"index": kind, "seconds": round(seconds, 2), "build_seconds": round(build_s, 2),
                      "search_seconds": round(max(seconds - build_s, 0.0), 2), "candidates": len(candidates), "peak_rss_gib": round(peak_rss_gib(), 3)}))


def run_worker(folder: Path, search: dict, rows_per_video: int, name: str) -> tuple[dict, "object"]:
    import pandas as pd

    out = folder / f"{name}.parquet"
    command = [sys.executable, __file__, "--worker", str(folder), "--search", json.dumps(search), "--rows-per-video", str(rows_per_video),
               "--out", str(out)]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{name} search failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1]), pd.read_parquet(out)


def approximate_settings(args) -> dict:
    """conf/base's search_index, with this run's overrides; an exact or auto kind becomes ivf (the approximate one is measured)."""
    import yaml

    conf = yaml.safe_load((Path(__file__).resolve().parents[1] / "conf/base/parameters_vsc_descriptor.yml").read_text())["search_index"]
    conf["kind"] = args.kind or (conf["kind"] if conf["kind"] in ("ivf", "hnsw") else "ivf")
    for key in ("nprobe", "nlist"):
        if getattr(args, key) is not None:
            conf[key] = getattr(args, key)
    return conf


def measure(args, folder: Path, refs: int, queries: int, exact: bool) -> dict:
    data = make_rows(folder, refs, queries, args.rows_per_video, args.copy_share, args.videos_per_topic, args.seed)
    search = approximate_settings(args)
    approx, approx_pairs = run_worker(folder, search, args.rows_per_video, "approximate")
    result = {"data": data, "search_index": search, "approx_index": approx["index"], "approx_s": approx["seconds"],
              "approx_build_s": approx["build_seconds"], "approx_search_s": approx["search_seconds"], "approx_peak_rss_gib": approx["peak_rss_gib"]}
    if exact:
        flat, exact_pairs = run_worker(folder, {"kind": "exact"}, args.rows_per_video, "exact")
        wanted = set(zip(exact_pairs["query_id"], exact_pairs["ref_id"]))
        found = set(zip(approx_pairs["query_id"], approx_pairs["ref_id"]))
        result.update({"exact_s": flat["seconds"], "exact_search_s": flat["search_seconds"], "exact_peak_rss_gib": flat["peak_rss_gib"],
                       "speedup": round(flat["seconds"] / approx["seconds"], 2),
                       "search_speedup": round(flat["search_seconds"] / max(approx["search_seconds"], 1e-9), 2),
                       "recall": round(len(wanted & found) / max(len(wanted), 1), 5), "candidate_pairs": len(wanted),
                       "peak_rss_gib": max(flat["peak_rss_gib"], approx["peak_rss_gib"])})
    else:
        result["peak_rss_gib"] = approx["peak_rss_gib"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--refs", type=int, default=200_000, help="reference rows")
    parser.add_argument("--queries", type=int, default=20_000, help="query rows")
    parser.add_argument("--rows-per-video", type=int, default=30)
    parser.add_argument("--copy-share", type=float, default=0.25, help="share of query videos that copy a reference video")
    parser.add_argument("--videos-per-topic", type=int, default=8)
    parser.add_argument("--kind", choices=["ivf", "hnsw"], default=None, help="the approximate index (default: conf/base's, else ivf)")
    parser.add_argument("--nprobe", type=int, default=None)
    parser.add_argument("--nlist", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    parser.add_argument("--vsc-estimate", action="store_true", help=f"also time the approximate search alone at {VSC_REFERENCE_ROWS:,} x {VSC_QUERY_ROWS:,}")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--search", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, json.loads(args.search), args.rows_per_video, args.out)
        return

    with tempfile.TemporaryDirectory(prefix="bench_search_") as tmp:
        result = measure(args, Path(tmp), args.refs, args.queries, exact=True)
    print(f"candidate search, {args.refs:,} reference x {args.queries:,} query rows (512-d, {result['data']['query_videos']} query videos): "
          f"exact {result['exact_s']:.1f} s, {result['approx_index']} {result['approx_s']:.1f} s including its index build "
          f"({result['approx_build_s']:.1f} s): speedup {result['speedup']:.1f}x, {result['search_speedup']:.1f}x with the index built "
          f"(as infer_ref stores it); recall of the exact candidate pairs {result['recall']:.4f}, peak RSS {result['peak_rss_gib']:.2f} GiB")
    if args.vsc_estimate:
        with tempfile.TemporaryDirectory(prefix="bench_search_vsc_") as tmp:
            vsc = measure(args, Path(tmp), VSC_REFERENCE_ROWS, VSC_QUERY_ROWS, exact=False)
        result["vsc"] = vsc
        exact_estimate = result["exact_s"] * (VSC_REFERENCE_ROWS * VSC_QUERY_ROWS) / (args.refs * args.queries)
        result["vsc"]["exact_s_estimate"] = round(exact_estimate, 1)
        print(f"VSC size, {VSC_REFERENCE_ROWS:,} x {VSC_QUERY_ROWS:,} rows: {vsc['approx_index']} {vsc['approx_s']:.1f} s timed "
              f"(index build {vsc['approx_build_s']:.1f} s of it), peak RSS {vsc['peak_rss_gib']:.2f} GiB; "
              f"exact search estimated at {exact_estimate / 60:.0f} min from the run above (it grows as rows x rows)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
