"""Task clip_classifier in-process (world size 1, CPU): which clips it trains on, its batches, its curve, its outputs."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from video_similarity.action.clip_archives import ClipArchiveParams, archive_clip_count, write_clip_archive
from video_similarity.action.sampling import ClipSampling
from video_similarity.distributed import WorkerContext
from video_similarity.models.checkpoint import read_checkpoint
from video_similarity.training.tasks import clip_classifier
from video_similarity.training.tasks.clip_classifier import ClipClassificationTask, ClipClassifierJob, optimizer_for
from video_similarity.video.encode import write_video

ALONE = WorkerContext(rank=0, local_rank=0, world_size=1, device="cpu")
PARAMS = ClipArchiveParams(ClipSampling(frames=4, stride=2, size=32), clips=2, min_frames=6)
LEVELS = {0: 40, 1: 130, 2: 220}  # each class a flat grey: the label can be read from any clip


@pytest.fixture(scope="module")
def archives(tmp_path_factory):
    """Nine videos, three per class, of 12 or 20 frames (one or two clips of 4 frames, stride 2)."""
    root = tmp_path_factory.mktemp("clip_archives")
    out, labels = {}, {}
    for i in range(9):
        video_id, label = f"c{i % 3}_v{i}", i % 3
        frames = [np.full((32, 40, 3), LEVELS[label], np.uint8) for _ in range(12 if i < 3 else 20)]
        write_video(root / f"{video_id}.mp4", frames, fps=25.0, quality=2)
        row = write_clip_archive(video_id, str(root / f"{video_id}.mp4"), str(root / f"{video_id}.zip"), PARAMS)
        assert row["status"] == "good"
        out[video_id], labels[video_id] = str(root / f"{video_id}.zip"), label
    return out, labels


def make_job(archives, folder, **overrides) -> ClipClassifierJob:
    paths, labels = archives
    ids = sorted(paths, key=lambda v: (labels[v], v))  # evaluation ids in index order: by class
    job = ClipClassifierJob(
        name="toy", model={"network": "tvn1", "num_classes": 3, "dropout": 0.0}, archives=paths, labels=labels,
        train_ids=ids[::2], eval_ids=ids, clip_frames=4, input_size=32, optimizer="adam", lr=1e-3, weight_decay=0.0, momentum=0.9,
        batch_size=2, epochs=1, milestones=[], gamma=0.1, train_clips="first", curve_videos=3, seed=0,
        checkpoint=str(folder / "model.ckpt"), predictions=str(folder / "predictions.npz"), history=str(folder / "history.json"),
    )
    return replace(job, **overrides)


def test_first_trains_on_one_clip_per_video_all_on_every_clip(archives, tmp_path):
    job = make_job(archives, tmp_path)
    first = ClipClassificationTask(job, ALONE).examples
    assert first == [(v, 0) for v in job.train_ids]
    every = ClipClassificationTask(replace(job, train_clips="all"), ALONE).examples
    counts = {v: archive_clip_count(job.archives[v], 4) for v in job.train_ids}
    assert len(every) == sum(counts.values()) > len(first) and max(counts.values()) == 2
    assert every == [(v, k) for v in job.train_ids for k in range(counts[v])]


def test_the_curve_samples_evaluation_videos_of_every_class(archives, tmp_path):
    job = make_job(archives, tmp_path)
    curve = ClipClassificationTask(job, ALONE).curve
    assert len(curve) == 3 and {job.labels[v] for v in curve} == {0, 1, 2}
    assert len(ClipClassificationTask(replace(job, curve_videos=100), ALONE).curve) == 9


def test_batches_shuffle_by_epoch_and_ranks_take_their_share(archives, tmp_path):
    job = make_job(archives, tmp_path, train_ids=sorted(archives[0]), batch_size=2)
    task = ClipClassificationTask(job, ALONE)
    epoch0 = task.batches(0)
    assert [len(b) for b in epoch0] == [2, 2, 2, 2, 1] and sorted(sum(epoch0, [])) == sorted((v, 0) for v in job.train_ids)
    assert epoch0 == task.batches(0) and epoch0 != task.batches(1)
    ranks = [ClipClassificationTask(job, WorkerContext(r, r, 2, "cpu")).batches(0) for r in (0, 1)]
    assert ranks == [epoch0[0:4:2], epoch0[1:4:2]]  # equal step counts: the fifth batch has no partner


class ReadsTheGrey(torch.nn.Module):
    """Predicts the class whose grey level is nearest the clip's mean: right on every clip."""

    def forward(self, x):
        mean = x.mean(dim=(1, 2, 3, 4)) * 255
        levels = torch.tensor([float(LEVELS[c]) for c in range(3)])
        return -(mean[:, None] - levels[None]).abs()


def test_after_epoch_is_the_first_clips_accuracy_of_the_curve_videos(archives, tmp_path):
    task = ClipClassificationTask(make_job(archives, tmp_path), ALONE)
    assert task.after_epoch(ReadsTheGrey()) == {"eval_clip_accuracy": 1.0}
    always_zero = torch.nn.Module()
    always_zero.forward = lambda x: torch.tensor([[1.0, 0.0, 0.0]] * len(x))
    assert task.after_epoch(always_zero) == {"eval_clip_accuracy": pytest.approx(1 / 3)}
    assert ClipClassificationTask(make_job(archives, tmp_path, eval_ids=[]), ALONE).after_epoch(ReadsTheGrey()) == {}


def test_the_optimiser_is_the_jobs(archives, tmp_path):
    parameters = [torch.nn.Parameter(torch.zeros(2))]
    sgd = optimizer_for(make_job(archives, tmp_path, optimizer="sgd", lr=0.1, momentum=0.5, weight_decay=0.01), parameters)
    assert isinstance(sgd, torch.optim.SGD) and sgd.defaults["momentum"] == 0.5 and sgd.defaults["weight_decay"] == 0.01
    assert isinstance(optimizer_for(make_job(archives, tmp_path), parameters), torch.optim.Adam)


def test_run_writes_every_evaluation_clips_logits_the_history_and_a_tvn_checkpoint(archives, tmp_path):
    job = make_job(archives, tmp_path, epochs=2)
    clip_classifier.run(job, ALONE)
    with np.load(job.predictions) as saved:
        counts = {v: archive_clip_count(job.archives[v], 4) for v in job.eval_ids}
        assert saved["logits"].shape == (sum(counts.values()), 3) and np.isfinite(saved["logits"]).all()
        assert sorted(set(saved["video_ids"])) == sorted(job.eval_ids)
        assert [int(k) for v, k in zip(saved["video_ids"], saved["clip_index"]) if v == job.eval_ids[-1]] == list(range(counts[job.eval_ids[-1]]))
    history = json.loads((tmp_path / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2] and all("eval_clip_accuracy" in h for h in history)
    state = read_checkpoint(job.checkpoint, kind="tiny_video_net")
    assert state.epoch == 2 and state.config["num_classes"] == 3
