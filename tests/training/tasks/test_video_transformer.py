"""Task video_transformer under torchrun: checkpoint that rebuilds alone, resume, 2 gloo processes (DDP)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from video_similarity.cache import write_item
from video_similarity.jobs import run_job
from video_similarity.launch import LaunchConfig
from video_similarity.models.video_transformer import encode_video, load_video_transformer
from video_similarity.training.tasks.video_transformer import VideoTransformerJob

# One thread per worker: on a small, busy CI box OpenMP threads spin against each other (X3D runs ~100x slower).
ONE = LaunchConfig(nproc_per_node=1, backend="gloo", device="cpu", threads_per_process=1)
TWO = LaunchConfig(nproc_per_node=2, backend="gloo", device="cpu", threads_per_process=1)
DIM = 16


@pytest.fixture(scope="module")
def features(tmp_path_factory):
    """12 'videos' of 5..20 unit frame-feature rows (D = 16), as an encoder's cache items."""
    root = tmp_path_factory.mktemp("frame_features")
    rng = np.random.default_rng(0)
    paths = {}
    for i, length in enumerate(rng.integers(5, 21, size=12)):
        x = rng.normal(size=(int(length), DIM)).astype(np.float32)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        paths[f"V{i:02d}"] = str(write_item(root, f"V{i:02d}", "key", features=x, timestamps=np.zeros((len(x), 2))))
    return paths


def frames_of(path):
    return np.load(path)["features"]


def make_job(features, checkpoint, **overrides) -> VideoTransformerJob:
    job = VideoTransformerJob(
        features=features, pairs=[["V00", "V01"], ["V02", "V03"], ["V04", "V05"], ["V06", "V99"]], dim=DIM, depth=1, heads=2, max_len=8,
        dropout=0.1, epochs=2, batch_size=4, lr=1e-3, weight_decay=1e-4, tau=0.07, crop=4, noise=0.05, frame_drop=0.1, seed=0,
        checkpoint=str(checkpoint),
    )
    return replace(job, **overrides)


def state_of(path):
    return torch.load(path, map_location="cpu", weights_only=True)


@pytest.fixture(scope="module")
def trained(features, tmp_path_factory):
    """One finished single-process run of 2 epochs."""
    root = tmp_path_factory.mktemp("video_encoder")
    job = make_job(features, root / "video_transformer.ckpt")
    run_job(job, ONE, workdir=root / "jobs")
    return job


def test_the_checkpoint_rebuilds_a_model_that_encodes_frame_features(trained):
    checkpoint = trained.checkpoint
    state = state_of(checkpoint)
    assert state["config"]["input_dim"] == DIM and state["config"]["dim"] == DIM and state["config"]["max_len"] == 8
    assert state["kind"] == "video_transformer" and state["format"] == 3 and state["epoch"] == 2 and state["optimizer"] is not None
    model = load_video_transformer(checkpoint)
    assert model.config["input_dim"] == DIM and not model.training
    frames = frames_of(trained.features["V00"])
    for x in (frames, np.concatenate([frames, frames, frames])[:20]):  # one window, and > max_len (windows of 8)
        out = encode_video(model, x)
        assert out.dtype == np.float32 and out.shape == (len(x), DIM)
        np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    # training moved the weights away from the seeded initialisation the same config starts from
    from video_similarity.models.video_transformer import VideoTransformer

    torch.manual_seed(0)
    start = VideoTransformer(**state["config"]).state_dict()
    assert not torch.allclose(start["input_proj.weight"], state["state_dict"]["input_proj.weight"])
    assert start["context_gate"] == 0 and state["state_dict"]["context_gate"] != 0  # the transformer branch opened


def test_a_finished_run_resumes_to_nothing_and_a_longer_one_trains_only_the_new_epoch(trained, tmp_path, caplog):
    import shutil

    checkpoint = tmp_path / "video_transformer.ckpt"
    shutil.copy2(trained.checkpoint, checkpoint)
    job = replace(trained, checkpoint=str(checkpoint))
    before = state_of(checkpoint)["state_dict"]
    stamp = checkpoint.stat().st_mtime_ns

    caplog.set_level("INFO")
    run_job(job, ONE, workdir=tmp_path / "jobs")
    assert "Resuming" in caplog.text and "epoch 1/2" not in caplog.text and "epoch 2/2" not in caplog.text
    assert checkpoint.stat().st_mtime_ns == stamp  # no epoch ran, so no checkpoint was written
    after = state_of(checkpoint)
    assert after["epoch"] == 2
    for key, value in before.items():
        torch.testing.assert_close(after["state_dict"][key], value, rtol=0, atol=0)

    caplog.clear()
    run_job(replace(job, epochs=3), ONE, workdir=tmp_path / "jobs")
    assert "Resuming" in caplog.text and "epoch 3/3" in caplog.text and "epoch 2/3" not in caplog.text
    third = state_of(checkpoint)
    assert third["epoch"] == 3
    assert not torch.allclose(third["state_dict"]["input_proj.weight"], before["input_proj.weight"])


def test_a_checkpoint_of_an_older_format_is_not_resumed(trained, tmp_path, caplog):
    checkpoint = tmp_path / "video_transformer.ckpt"
    old = state_of(trained.checkpoint)
    old["format"] = 2
    del old["state_dict"]["context_gate"]
    torch.save(old, checkpoint)

    caplog.set_level("INFO")
    run_job(replace(trained, checkpoint=str(checkpoint)), ONE, workdir=tmp_path / "jobs")
    assert "Resuming" not in caplog.text and "format 2" in caplog.text and "retrain it" in caplog.text
    assert "epoch 1/2" in caplog.text and "epoch 2/2" in caplog.text
    assert state_of(checkpoint)["format"] == 3 and "context_gate" in state_of(checkpoint)["state_dict"]
    load_video_transformer(checkpoint)


def test_two_gloo_processes_train_with_ddp(features, tmp_path, caplog):
    """The views are all-gathered every step, so both ranks' batches must have one size even when PairSampler's don't."""
    from video_similarity.training.augment import PairSampler

    job = make_job(features, tmp_path / "unused.ckpt")
    pairs = [((v, 0), (v, 0)) for v in sorted(features)] + [((a, 0), (b, 0)) for a, b in job.pairs if b in features]
    sizes = [len(b) for b in PairSampler(pairs, seed=0).batches(job.batch_size)]
    assert sizes[2] != sizes[3]  # epoch 0's second step pairs a batch of 4 (rank 0) with a shorter one (rank 1)

    checkpoint = tmp_path / "video_transformer.ckpt"
    caplog.set_level("INFO")
    run_job(make_job(features, checkpoint), TWO, workdir=tmp_path / "jobs")
    assert "2 process(es)" in caplog.text and "epoch 2/2" in caplog.text
    assert state_of(checkpoint)["epoch"] == 2
    model = load_video_transformer(checkpoint)
    out = encode_video(model, frames_of(features["V03"]))
    assert out.shape == (len(frames_of(features["V03"])), DIM)
    assert np.isfinite(out).all()
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
