"""Soak: preprocess over a corpus with broken files, interrupted at random points and resumed, as a user would run it.

A VSC-layout root with good videos (some of degenerate aspect ratio) and bad
ones (truncated, zero-byte, audio-only, text renamed .mp4) is ingested, then
``kedro run --pipeline=preprocess`` is started and stopped by SIGINT, SIGTERM or
SIGKILL at random points several times, and finally run to the end. Checked:
every good video has a correct archive, every bad one is in the report with its
reason, no temporary file remains, no process is left behind. Prints the
figures; exits 1 when a check fails.

    .venv/bin/python benchmarks/soak_preprocess.py --videos 24 --interruptions 6
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.helpers import write_audio_only, write_indexed_video, write_truncated  # noqa: E402
from video_similarity.config import dataset_name  # noqa: E402
from video_similarity.frames.archive import FrameArchive  # noqa: E402

KEDRO = Path(sys.executable).parent / "kedro"


def build_root(root: Path, n_good: int, rng: random.Random) -> dict[str, str]:
    """The corpus; returns {video_id: "good" | why it is bad}."""
    folder = root / "train" / "query"
    folder.mkdir(parents=True)
    kinds, rows = {}, []
    # a few long sources, copied under many ids: enough decoding work to be stopped midway, cheap to make
    bases = []
    for k, (size, seconds) in enumerate([((640, 360), 60), ((360, 640), 40), ((480, 480), 50)]):
        bases.append((write_indexed_video(root / f"base{k}.mp4", seconds * 25, 25.0, size), seconds * 25, 25.0, size))
    bases.append((write_indexed_video(root / "strip.mp4", 60, 10.0, (1600, 16)), 60, 10.0, (1600, 16)))
    bases.append((write_indexed_video(root / "column.mp4", 60, 10.0, (16, 1200)), 60, 10.0, (16, 1200)))
    for i in range(n_good):
        base, n, fps, size = bases[3 + i % 2] if i % 8 in (3, 5) else bases[rng.randrange(3)]
        vid = f"Q{i:05d}"
        shutil.copy(base, folder / f"{vid}.mp4")
        kinds[vid] = "good"
        rows.append((vid, n / fps, fps, *size))
    for base, *_ in bases:
        base.unlink()
    full = write_indexed_video(root / "full.mp4", 80, 10.0, (160, 64), options={"movflags": "faststart"})
    bad = {
        "B00001": lambda p: write_truncated(full, p, 0.6),
        "B00002": lambda p: p.write_bytes(b""),
        "B00003": lambda p: write_audio_only(p),
        "B00004": lambda p: p.write_text("this is not a video\n" * 50),
    }
    for vid, make in bad.items():
        make(folder / f"{vid}.mp4")
        kinds[vid] = {"B00001": "truncated", "B00002": "zero-byte", "B00003": "audio-only", "B00004": "text renamed .mp4"}[vid]
        rows.append((vid, 8.0, 10.0, 160, 64))
    (root / "full.mp4").unlink()
    table = pd.DataFrame(rows, columns=["video_id", "duration_sec", "frames_per_sec", "width", "height"]).assign(rn=0)
    table.to_csv(root / "train_query_metadata.csv", index=False)
    return kinds


def project(work: Path) -> Path:
    proj = work / "project"
    proj.mkdir()
    shutil.copy(REPO / "pyproject.toml", proj)
    shutil.copy(REPO / ".telemetry", proj)
    shutil.copytree(REPO / "conf", proj / "conf", ignore=shutil.ignore_patterns("local"))
    (proj / "conf" / "local").mkdir()
    (proj / "src").mkdir()
    return proj


def kedro(proj: Path, root: Path, pipeline: str, **popen) -> subprocess.Popen:
    args = [str(KEDRO), "run", "--env=vsc", f"--pipeline={pipeline}", f"--params=vsc_root={root},preprocess.workers=2"]
    return subprocess.Popen(args, cwd=proj, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True, **popen)


def descendants(pid: int) -> set[int]:
    """Every process below ``pid``, from /proc (no procps needed)."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    found, frontier = set(), [pid]
    while frontier:
        parent = frontier.pop()
        for child, ppid in parents.items():
            if ppid == parent and child not in found:
                found.add(child)
                frontier.append(child)
    return found


def alive(pids: set[int]) -> set[int]:
    return {p for p in pids if Path(f"/proc/{p}").exists() and "zombie" not in Path(f"/proc/{p}/status").read_text().lower()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=24, help="good videos (bad ones are added)")
    parser.add_argument("--interruptions", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="soak-"))
    root = work / "vsc"
    kinds = build_root(root, args.videos, rng)
    proj = project(work)
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "1"}
    assert kedro(proj, root, "ingest", env=env).wait() == 0, "ingest failed"
    dataset = dataset_name("vsc", root)  # the root's own data folder
    store = proj / f"data/02_intermediate/{dataset}/frame_archives"
    interruptions, problems = [], []
    for n in range(args.interruptions):
        count = lambda: len(list(store.glob("*.zip"))) if store.exists() else 0  # noqa: E731
        before, started = count(), time.time()
        process = kedro(proj, root, "preprocess", env=env)
        # stop it mid-run: after a random number of new archives (or before the first), at a random moment
        target = before + rng.randint(0, 4)
        while count() < target and process.poll() is None and time.time() - started < 120:
            time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 1.0))
        delay = time.time() - started
        children = descendants(process.pid)
        sig = rng.choice([signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
        archives_before = count()
        sent = time.time()
        process.send_signal(sig)
        try:
            code = process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            problems.append(f"interruption {n}: {sig.name} did not stop the run within 20 s")
            os.killpg(process.pid, signal.SIGKILL)
            code = process.wait()
        stopped = time.time() - sent
        deadline = time.time() + 8
        while alive(children) and time.time() < deadline:
            time.sleep(0.2)
        left = alive(children)
        if left:
            problems.append(f"interruption {n}: {len(left)} process(es) left behind after {sig.name}")
            for pid in left:
                os.kill(pid, signal.SIGKILL)
        interruptions.append({"after_s": round(delay, 1), "signal": sig.name, "exit": code, "stopped_in_s": round(stopped, 2),
                              "archives_so_far": archives_before, "processes_left": len(left)})
    final = kedro(proj, root, "preprocess", env=env)
    if final.wait() != 0:
        problems.append(f"the final run failed: {final.stderr.read()[-500:]}")
    manifest = pd.read_parquet(proj / f"data/02_intermediate/{dataset}/frame_archives.parquet").set_index("video_id")
    report = json.loads((proj / f"data/08_reporting/{dataset}/preprocess_report.json").read_text())
    reasons = {r["video_id"]: r["error"] for r in report["failed"] + report["partial"]}
    for vid, kind in kinds.items():
        row = manifest.loc[vid]
        if kind == "good":
            if row["status"] not in ("ok", "cached"):
                problems.append(f"{vid}: good video ended {row['status']} ({row['error']})")
                continue
            with FrameArchive(row["archive"]) as archive:
                expected = math.ceil(float(pd.read_csv(root / "train_query_metadata.csv").set_index("video_id").loc[vid, "duration_sec"]) - 1e-9)
                if len(archive) != expected or archive.frame(len(archive) - 1).ndim != 3:
                    problems.append(f"{vid}: archive has {len(archive)} frames, expected {expected}")
        elif not reasons.get(vid):
            problems.append(f"{vid} ({kind}): not in the report with a reason")
    temporaries = [p.name for p in (proj / "data").rglob("*.tmp")]
    if temporaries:
        problems.append(f"temporary files remain: {temporaries[:5]}")
    figures = {
        "videos": len(kinds), "good": sum(k == "good" for k in kinds.values()), "bad": sum(k != "good" for k in kinds.values()),
        "interruptions": interruptions, "final_counts": report["counts"],
        "bad_videos": {vid: f"{manifest.loc[vid, 'status']}: {reasons.get(vid, '')[-90:]}" for vid, k in kinds.items() if k != "good"},
        "temporaries_left": len(temporaries), "problems": problems,
    }
    print(json.dumps(figures, indent=2))
    shutil.rmtree(work, ignore_errors=True)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
