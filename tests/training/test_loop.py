"""The one training loop's learning-rate schedule: warmup_linear's factors, and a resumed run continuing it exactly."""

import pytest
import torch

from video_similarity.distributed import WorkerContext
from video_similarity.training.loop import fit, warmup_linear

ALONE = WorkerContext(rank=0, local_rank=0, world_size=1, device="cpu")


def test_warmup_linear_rises_from_zero_to_one_then_falls_to_zero():
    f = warmup_linear(0.1)
    factors = [f(step, 100) for step in range(100)]
    assert factors[0] == 0.0 and factors[5] == pytest.approx(0.5) and factors[10] == pytest.approx(1.0)
    assert all(a < b for a, b in zip(factors[:10], factors[1:11]))  # rising over the warmup
    assert all(a > b for a, b in zip(factors[10:], factors[11:]))  # then falling
    assert factors[-1] == pytest.approx(1 / 90) and f(100, 100) == 0.0 and f(120, 100) == 0.0
    assert warmup_linear(0.0)(0, 10) == 1.0 and warmup_linear(1.0)(9, 10) == pytest.approx(0.9)
    with pytest.raises(ValueError, match="warmup_fraction"):
        warmup_linear(1.5)


class Interrupted(Exception):
    pass


class ToyTask:
    """Three fixed batches an epoch of a linear regression; optionally dies at the start of one epoch (pre-emption)."""

    name = "toy"

    def __init__(self, die_at: int | None = None):
        generator = torch.Generator().manual_seed(0)
        self.data = [(torch.randn(4, 3, generator=generator), torch.randn(4, generator=generator)) for _ in range(3)]
        self.die_at = die_at

    def batches(self, epoch):
        if epoch == self.die_at:
            raise Interrupted
        return self.data[epoch % 2 :] + self.data[: epoch % 2]  # the order changes by epoch, the count does not

    def loss(self, trained, batch):
        x, y = batch
        return ((trained(x).squeeze(-1) - y) ** 2).mean()


class RecordingSGD(torch.optim.SGD):
    def __init__(self, params, record):
        super().__init__(params, lr=0.1, momentum=0.9)
        self.record = record

    def step(self, closure=None):
        self.record.append(self.param_groups[0]["lr"])
        return super().step(closure)


def run(checkpoint, record, task, schedule=warmup_linear(0.25), epochs=4):
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    fit(model, RecordingSGD(model.parameters(), record), task, epochs=epochs, checkpoint=checkpoint, kind="toy", config={"epochs": epochs},
        context=ALONE, schedule=schedule)
    return model


def test_a_resumed_run_applies_the_lr_of_the_uninterrupted_one_at_every_step(tmp_path):
    whole = []
    uninterrupted = run(tmp_path / "whole.ckpt", whole, ToyTask())
    f = warmup_linear(0.25)
    assert whole == pytest.approx([0.1 * f(step, 12) for step in range(12)])  # 4 epochs x 3 batches
    assert whole[0] == 0.0 and max(whole) == pytest.approx(0.1)

    first, second = [], []
    with pytest.raises(Interrupted):
        run(tmp_path / "cut.ckpt", first, ToyTask(die_at=2))  # two epochs done and checkpointed, then killed
    resumed = run(tmp_path / "cut.ckpt", second, ToyTask())  # a fresh process: new model, new optimiser at lr 0.1
    assert len(first) == 6 and len(second) == 6
    assert first + second == whole  # the same lr at every global step, not a restarted warmup
    for a, b in zip(uninterrupted.parameters(), resumed.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_without_a_schedule_the_lr_stays_and_the_optimiser_is_left_as_it_was(tmp_path):
    record = []
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    optimizer = RecordingSGD(model.parameters(), record)
    fit(model, optimizer, ToyTask(), epochs=2, checkpoint=tmp_path / "plain.ckpt", kind="toy", config={}, context=ALONE)
    assert record == [0.1] * 6 and "initial_lr" not in optimizer.param_groups[0]


def test_multistep_multiplies_the_lr_by_gamma_at_each_milestone_epoch():
    from video_similarity.training.loop import multistep

    f = multistep([6, 10, 14], 0.3, epochs=16)
    per_epoch = [f(epoch * 5, 16 * 5) for epoch in range(16)]  # 5 steps an epoch
    assert per_epoch[:6] == [1.0] * 6 and per_epoch[6] == pytest.approx(0.3) and per_epoch[10] == pytest.approx(0.09)
    assert per_epoch[15] == pytest.approx(0.027) and f(4, 80) == 1.0


class ScoredToyTask(ToyTask):
    def __init__(self, die_at=None):
        super().__init__(die_at)
        self.calls = 0

    def after_epoch(self, model):
        assert not model.training  # evaluated in eval mode
        self.calls += 1
        return {"eval_metric": float(self.calls)}


def test_the_history_survives_a_resume_and_keeps_what_after_epoch_returns(tmp_path):
    from video_similarity.models.checkpoint import read_checkpoint

    with pytest.raises(Interrupted):
        run(tmp_path / "cut.ckpt", [], ScoredToyTask(die_at=2))
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    history = fit(model, RecordingSGD(model.parameters(), []), ScoredToyTask(), epochs=4, checkpoint=tmp_path / "cut.ckpt", kind="toy",
                  config={"epochs": 4}, context=ALONE, schedule=warmup_linear(0.25))
    assert [row["epoch"] for row in history] == [1, 2, 3, 4]
    assert [row["eval_metric"] for row in history] == [1.0, 2.0, 1.0, 2.0]  # two epochs before the cut, two after
    assert all(row["loss"] > 0 and row["seconds"] >= 0 for row in history)
    assert read_checkpoint(tmp_path / "cut.ckpt").extra["history"] == history
