"""TVN-1's CPU latency per clip and its multiply-accumulates, beside the TVN paper's figures.

    .venv/bin/python benchmarks/bench_tvn.py               (8 x 200 x 200, the notes' input; 2 x 224 x 224, the released one)
    .venv/bin/python benchmarks/bench_tvn.py --runs 5      (fewer timed passes)

The paper (Piergiovanni et al., Table 3) gives TVN-1 37 ms per clip on a CPU and 13 GFLOPs; its
CPU is not this one and its input is the released 2 frames at 224 px. One clip (batch 1), random
weights, eval mode, no gradient; the median of ``--runs`` passes after 3 warm-up passes, with
torch's default threads (or ``--threads``).
"""

from __future__ import annotations

import argparse
import json
import os

import torch

from video_similarity.models.cost import count_parameters, measure_cpu_latency, multiply_accumulates
from video_similarity.models.tvn import tvn1

PAPER_CPU_MS, PAPER_GFLOPS = 37, 13
INPUTS = {"notes (8x200x200)": (3, 8, 200, 200), "released (2x224x224)": (3, 2, 224, 224)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    torch.manual_seed(0)
    model = tvn1(num_classes=50).eval()  # UCF50's head
    rows = []
    for name, shape in INPUTS.items():
        ms, threads = measure_cpu_latency(model, shape, args.runs, args.threads)
        rows.append({"input": name, "cpu_ms_per_clip": round(ms, 1), "gmacs": round(multiply_accumulates(model, shape) / 1e9, 2),
                     "threads": threads, "paper_cpu_ms": PAPER_CPU_MS, "paper_gflops": PAPER_GFLOPS})
    print(f"TVN-1: {count_parameters(model):,} parameters ({count_parameters(model.blocks):,} before the classifier); {os.cpu_count()} CPU core(s) here")
    for row in rows:
        print(f"  {row['input']:>22}: {row['cpu_ms_per_clip']:7.1f} ms per clip on {row['threads']} thread(s), {row['gmacs']:5.2f} GMACs"
              f"   (paper: {PAPER_CPU_MS} ms, {PAPER_GFLOPS} GFLOPs)")
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
