"""Localisation time per candidate pair: TN and the alignment network, at VSC query / reference lengths.

    .venv/bin/python benchmarks/bench_localization.py [--pairs 200] [--model PATH]

Matrices are synthetic and seeded (VSC-2022: queries 5-60 s, references 30-180 s at
1 fps; background similarity around -0.4, one planted copied run per pair); the cost of
both localisers depends on the shapes (and TN's on how many cells pass min_sim), not on
where the copy is. The network is an untrained model of the configured size unless
``--model`` names a trained TorchScript file (``data/06_models/<dataset>/alignment/model.pt``):
its time does not depend on the weights. One process, one thread per process as the
pipeline's node runs it; the official baseline runs TN in 16 processes.
Writes ``data/08_reporting/bench/localization.json``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def matrices(n: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        h, w = int(rng.integers(5, 61)), int(rng.integers(30, 181))
        sims = rng.normal(-0.4, 0.1, (h, w)).astype(np.float32)
        length = int(rng.integers(2, min(h, w) + 1))
        q0, r0 = int(rng.integers(0, h - length + 1)), int(rng.integers(0, w - length + 1))
        sims[np.arange(q0, q0 + length), np.arange(r0, r0 + length)] = rng.uniform(0.1, 0.6, length)
        out.append(sims)
    return out


def main() -> None:
    from video_similarity.models.alignment import AlignmentNet
    from video_similarity.models.checkpoint import export_torchscript
    from video_similarity.vsc.localization.network import NetworkLocalizer
    from video_similarity.vsc.localization.params import NetworkParams, TnParams
    from video_similarity.vsc.localization.registry import TnLocalizer

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=200)
    parser.add_argument("--model", help="a trained alignment network (TorchScript); default: an untrained one of the configured size")
    args = parser.parse_args()
    torch.set_num_threads(1)
    pairs = matrices(args.pairs, seed=0)
    params = NetworkParams()
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model
        if model is None:
            model = str(Path(tmp) / "alignment.pt")
            export_torchscript(AlignmentNet(params.width, params.dilations).eval(), model)
        localizers = {"tn": TnLocalizer(TnParams()), "network": NetworkLocalizer(model, params)}
        results = {"pairs": len(pairs), "mean_cells": float(np.mean([m.size for m in pairs])), "threads": 1, "ms_per_pair": {}}
        for name, localize in localizers.items():
            localize(pairs[0])  # warm-up (TorchScript's first call optimises the graph)
            start = time.perf_counter()
            for sims in pairs:
                localize(sims)
            ms = 1000 * (time.perf_counter() - start) / len(pairs)
            results["ms_per_pair"][name] = round(ms, 2)
            print(f"{name:8s} {ms:7.2f} ms per pair ({len(pairs)} pairs, mean {results['mean_cells']:.0f} cells, one thread)")
    out = Path("data/08_reporting/bench/localization.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
