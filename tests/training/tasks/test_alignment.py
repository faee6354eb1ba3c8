"""Task alignment in-process (world size 1, CPU): it learns planted diagonals, resumes, exports TorchScript and reports."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from video_similarity.distributed import WorkerContext
from video_similarity.models.checkpoint import load_torchscript, read_checkpoint
from video_similarity.training.tasks import alignment
from video_similarity.training.tasks.alignment import AlignmentJob
from video_similarity.vsc.alignment_pairs import AlignmentPairs

ALONE = WorkerContext(rank=0, local_rank=0, world_size=1, device="cpu")


@pytest.fixture()
def job(tmp_path) -> AlignmentJob:
    rng = np.random.default_rng(0)
    sims, targets = [], []
    for _ in range(48):
        h, w = int(rng.integers(6, 14)), int(rng.integers(6, 14))
        s = rng.normal(-0.5, 0.05, (h, w)).astype(np.float32)
        t = np.zeros((h, w), np.uint8)
        if rng.random() < 0.7:
            n = int(rng.integers(2, min(h, w)))
            q0, r0 = int(rng.integers(0, h - n + 1)), int(rng.integers(0, w - n + 1))
            s[q0 + np.arange(n), r0 + np.arange(n)] = 0.4
            t[q0 + np.arange(n), r0 + np.arange(n)] = 1
        sims.append(s)
        targets.append(t)
    AlignmentPairs(sims, targets, ["composed"] * len(sims)).save(tmp_path / "pairs.npz")
    return AlignmentJob(name="alignment", pairs=str(tmp_path / "pairs.npz"), width=8, dilations=[1, 2, 1], epochs=6, batch_size=8, lr=0.01,
                        weight_decay=0.0, positive_weight=1.0, seed=0, checkpoint=str(tmp_path / "model.ckpt"),
                        torchscript=str(tmp_path / "model.pt"), report=str(tmp_path / "report.json"))


def test_the_network_learns_planted_diagonals_and_reports(job):
    torch.set_num_threads(1)
    alignment.run(job, ALONE)
    report = json.loads(open(job.report).read())
    losses = [h["loss"] for h in report["history"]]
    assert report["pairs"] == 48 and report["kinds"] == {"composed": 48} and losses[-1] < 0.5 * losses[0]
    assert read_checkpoint(job.checkpoint, "alignment").epoch == 6
    model = load_torchscript(job.torchscript)
    sims = np.full((10, 10), -0.5, np.float32)
    sims[np.arange(2, 6), np.arange(3, 7)] = 0.4
    x = torch.from_numpy(sims)[None]
    with torch.inference_mode():
        prob = torch.sigmoid(model(x, torch.ones_like(x, dtype=torch.bool)))[0].numpy()
    assert prob[np.arange(2, 6), np.arange(3, 7)].min() > 0.5 > prob[0:2].max()


def test_a_finished_checkpoint_resumes_without_training_again(job):
    torch.set_num_threads(1)
    alignment.run(job, ALONE)
    first = read_checkpoint(job.checkpoint, "alignment").state_dict
    alignment.run(job, ALONE)  # the checkpoint holds every epoch: nothing more to train
    again = read_checkpoint(job.checkpoint, "alignment").state_dict
    assert all(torch.equal(first[k], again[k]) for k in first)
