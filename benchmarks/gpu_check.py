"""One short check of the CUDA paths, for a session that is lent a GPU: the extraction worker, a training job, the localiser.

    python benchmarks/gpu_check.py --out DIR [--device cuda] [--videos 32] [--pairs 2000]

Runs without an install (``PYTHONPATH=src``) and without kedro, faiss or PyAV, so that it
works on a bare accelerator host that has PyTorch. Each step runs on ``--device`` and on the
CPU for comparison, through the project's own jobs (``jobs.run_job`` -> launch -> the worker),
and writes ``gpu_check.json`` under ``--out``:

1. NCCL: a one-process process group with an all-reduce (``world_size`` GPUs would be the
   project's ``nproc_per_node``; a host with one GPU can only check that NCCL initialises).
2. The extraction worker (``ExtractionJob``) over synthetic 1-fps frame archives with an
   untrained resnet50 descriptor at 224 px: frames per second.
3. A training job: task ``alignment`` over synthetic similarity matrices at VSC sizes, seconds
   per epoch.
4. The alignment network as a localiser: milliseconds per candidate pair.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def nccl_check() -> dict:
    code = ("import torch, torch.distributed as dist; dist.init_process_group('nccl'); t = torch.ones(4, device='cuda'); "
            "dist.all_reduce(t); torch.cuda.synchronize(); print(float(t.sum())); dist.destroy_process_group()")
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "RANK": "0", "WORLD_SIZE": "1", "LOCAL_RANK": "0", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29511"})
    return {"ok": done.returncode == 0, "all_reduce_sum": done.stdout.strip(), "seconds": round(time.perf_counter() - started, 2),
            "error": done.stderr.strip().splitlines()[-1] if done.returncode else None}


def make_archives(root: Path, videos: int, frames: int, rng) -> dict[str, str]:
    from video_similarity.frames.archive import ArchiveSettings, write_archive
    from video_similarity.video.decode import SampledFrame

    root.mkdir(parents=True, exist_ok=True)
    out = {}
    for v in range(videos):
        video_id = f"V{v:04d}"
        base = rng.integers(0, 256, (288 // 16, 384 // 16, 3))
        images = [np.kron(np.roll(base, k, axis=1), np.ones((16, 16, 1))).astype(np.uint8) for k in range(frames)]
        write_archive(root / f"{video_id}.zip", video_id, [SampledFrame(i, float(i), i + 1.0, f) for i, f in enumerate(images)],
                      ArchiveSettings(1.0, None, 90))
        out[video_id] = str(root / f"{video_id}.zip")
    return out


def extraction(archives: dict[str, str], device: str, workdir: Path) -> dict:
    from video_similarity.extraction import encoder_items

    entry = {"builder": "resnet50", "weights_path": None, "seed": 0, "whitening_path": None, "options": {"dim": 256, "input_size": 224}}
    launch = {"nproc_per_node": 1, "device": device, "backend": "auto"}
    started = time.perf_counter()
    items = encoder_items("resnet50", entry, archives, workdir / f"cache_{device}", launch, batch_size=64)
    seconds = time.perf_counter() - started
    frames = sum(len(np.load(p)["features"]) for p in items.values())
    return {"videos": len(items), "frames": frames, "seconds": round(seconds, 2), "frames_per_second": round(frames / seconds, 1)}


def training(pairs_file: str, device: str, workdir: Path, epochs: int) -> dict:
    from video_similarity.jobs import run_job
    from video_similarity.training.tasks.alignment import AlignmentJob

    folder = workdir / f"alignment_{device}"
    folder.mkdir(parents=True, exist_ok=True)
    job = AlignmentJob(name="alignment", pairs=pairs_file, width=32, dilations=[1, 2, 4, 8, 1], epochs=epochs, batch_size=16, lr=0.002,
                       weight_decay=0.0001, positive_weight=1.0, seed=0, checkpoint=str(folder / "model.ckpt"),
                       torchscript=str(folder / "model.pt"), report=str(folder / "report.json"))
    started = time.perf_counter()
    run_job(job, {"nproc_per_node": 1, "device": device, "backend": "auto"}, workdir=folder / "jobs")
    report = json.loads((folder / "report.json").read_text())
    return {"epochs": epochs, "job_seconds": round(time.perf_counter() - started, 2),
            "epoch_seconds": [h["seconds"] for h in report["history"]], "final_loss": report["history"][-1]["loss"],
            "torchscript": str(folder / "model.pt")}


def localisation(torchscript: str, device: str, matrices: list) -> dict:
    from video_similarity.vsc.localization.network import NetworkLocalizer
    from video_similarity.vsc.localization.params import NetworkParams

    localize = NetworkLocalizer(torchscript, NetworkParams(), device=device)
    localize(matrices[0])
    started = time.perf_counter()
    for sims in matrices:
        localize(sims)
    return {"pairs": len(matrices), "ms_per_pair": round(1000 * (time.perf_counter() - started) / len(matrices), 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--videos", type=int, default=32)
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--pairs", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import torch

    from bench_localization import matrices
    from video_similarity.vsc.alignment_pairs import AlignmentPairs

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    result = {"torch": torch.__version__, "cuda": torch.cuda.is_available(),
              "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None, "cpu_count": os.cpu_count()}
    if args.device.startswith("cuda"):
        result["nccl"] = nccl_check()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        archives = make_archives(workdir / "archives", args.videos, args.frames, rng)
        sims = matrices(args.pairs, seed=0)
        targets = [(m > 0.05).astype(np.uint8) for m in sims]
        AlignmentPairs(sims, targets, ["composed"] * len(sims)).save(workdir / "pairs.npz")
        for device in dict.fromkeys([args.device, "cpu"]):
            step = {}
            step["extraction"] = extraction(archives, device, workdir)
            print(device, "extraction", step["extraction"], flush=True)
            step["training"] = training(str(workdir / "pairs.npz"), device, workdir, args.epochs)
            print(device, "training", step["training"], flush=True)
            step["localisation"] = localisation(step["training"].pop("torchscript"), device, sims[:200])
            print(device, "localisation", step["localisation"], flush=True)
            result[device] = step
            (out / "gpu_check.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
