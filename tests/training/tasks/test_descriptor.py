"""Task descriptor under torchrun: local pretrained weights, checkpoint, resume, TorchScript export, 2 gloo processes."""

import numpy as np
import pytest
import torch

from video_similarity.frames.archive import ArchiveSettings, write_archive
from dataclasses import replace

from video_similarity.jobs import run_job
from video_similarity.launch import LaunchConfig
from video_similarity.models.checkpoint import load_torchscript, read_checkpoint
from video_similarity.training.tasks.descriptor import DescriptorJob, Teacher
from video_similarity.video.decode import SampledFrame


@pytest.fixture
def archives(tmp_path):
    rng = np.random.default_rng(1)
    out = {}
    for v in range(3):
        frames = [SampledFrame(k, k, k + 1, rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)) for k in range(4)]
        write_archive(tmp_path / f"V{v}.zip", f"V{v}", frames, ArchiveSettings())
        out[f"V{v}"] = str(tmp_path / f"V{v}.zip")
    return out


def test_training_job_starts_from_local_weights_checkpoints_and_exports(archives, tmp_path, caplog):
    import torchvision

    torch.manual_seed(0)
    source = torchvision.models.mobilenet_v3_small(weights=None)
    torch.save(source.state_dict(), tmp_path / "weights.pth")
    job = DescriptorJob(
        name="m", backbone="mobilenet_v3_small", dim=16, epochs=0, batch_size=2, lr=1e-3, seed=0, image_size=32, tau=0.05, koleo_weight=0.1,
        weight_decay=0.0, synthetic_pairs=0, weights_path=str(tmp_path / "weights.pth"), archives=archives,
        ground_truth=[["V0", "V1", 0.0, 2.0, 1.0, 3.0]], self_pair_videos=list(archives), teacher=None,
        checkpoint=str(tmp_path / "m.ckpt"), torchscript=str(tmp_path / "m.pt"),
    )
    run_job(job, LaunchConfig(), workdir=tmp_path / "jobs")
    exported = load_torchscript(job.torchscript)
    trunk = dict(exported.trunk.named_parameters())
    torch.testing.assert_close(trunk["features.0.0.weight"], source.state_dict()["features.0.0.weight"])
    assert exported(torch.rand(2, 3, 32, 32)).shape == (2, 16)
    # one epoch more resumes nothing (no checkpoint yet) and trains: weights move away from the start
    run_job(replace(job, epochs=1, torchscript=str(tmp_path / "m1.pt")), LaunchConfig(nproc_per_node=2), workdir=tmp_path / "jobs")
    trained = dict(load_torchscript(tmp_path / "m1.pt").trunk.named_parameters())
    assert not torch.allclose(trained["features.0.0.weight"], source.state_dict()["features.0.0.weight"])
    assert read_checkpoint(tmp_path / "m.ckpt").epoch == 1
    # asking for 2 epochs resumes after the checkpointed one and trains only the second
    caplog.set_level("INFO")
    run_job(replace(job, epochs=2, torchscript=str(tmp_path / "m2.pt")), LaunchConfig(), workdir=tmp_path / "jobs")
    assert "Resuming" in caplog.text and "epoch 2/2" in caplog.text and "epoch 1/2" not in caplog.text
    state = read_checkpoint(tmp_path / "m.ckpt", kind="descriptor")
    assert state.epoch == 2 and state.config["backbone"] == "mobilenet_v3_small" and state.optimizer is not None
    # another configuration (here: the output dim) does not resume that checkpoint
    caplog.clear()
    run_job(replace(job, dim=8, epochs=1, torchscript=str(tmp_path / "m8.pt")), LaunchConfig(), workdir=tmp_path / "jobs")
    assert "Resuming" not in caplog.text and "another configuration" in caplog.text and "epoch 1/1" in caplog.text
    assert load_torchscript(tmp_path / "m8.pt")(torch.rand(1, 3, 32, 32)).shape == (1, 8)


def test_a_teacher_changes_what_the_member_learns(archives, tmp_path):
    """The same job with a teacher's rows for the clean frames trains to other weights than without."""
    import numpy as np

    from video_similarity.cache import write_item

    rng = np.random.default_rng(0)
    items = {v: str(write_item(tmp_path / "teacher", v, "k", features=rng.normal(size=(4, 24)).astype(np.float32))) for v in archives}
    job = DescriptorJob(
        name="m", backbone="mobilenet_v3_small", dim=16, epochs=1, batch_size=3, lr=1e-2, seed=0, image_size=32, tau=0.05, koleo_weight=0.1,
        weight_decay=0.0, synthetic_pairs=0, weights_path=None, archives=archives, ground_truth=[], self_pair_videos=list(archives),
        teacher=None, checkpoint="", torchscript="",
    )
    runs = {}
    for name, teacher in (("plain", None), ("taught", Teacher(items, 5.0))):
        run_job(replace(job, teacher=teacher, checkpoint=str(tmp_path / f"{name}.ckpt"), torchscript=str(tmp_path / f"{name}.pt")),
                LaunchConfig(), workdir=tmp_path / "jobs")
        runs[name] = dict(load_torchscript(tmp_path / f"{name}.pt").proj.named_parameters())["weight"]
    assert not torch.allclose(runs["plain"], runs["taught"])
