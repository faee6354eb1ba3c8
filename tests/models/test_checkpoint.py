"""The one checkpoint format: round trip with the optimiser, atomic overwrite, older formats refused; TorchScript export."""

import pytest
import torch

from video_similarity.models.checkpoint import (
    CHECKPOINT_FORMAT,
    CheckpointError,
    export_torchscript,
    load_torchscript,
    read_checkpoint,
    save_checkpoint,
)
from video_similarity.models.descriptor import CHECKPOINT_KIND, DescriptorModel

BACKBONE = "mobilenet_v3_small"  # the cheapest registered one


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return DescriptorModel(BACKBONE, dim=32).eval()


@pytest.mark.parametrize("method", ["script", "trace"])
def test_torchscript_round_trip(model, tmp_path, method):
    x = torch.rand(2, 3, 64, 64)
    example = x if method == "trace" else None
    path = export_torchscript(model, tmp_path / "sub" / f"{method}.pt", method=method, example=example)
    assert path.is_file()
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp file left behind
    loaded = load_torchscript(path)
    with torch.no_grad():
        assert torch.allclose(loaded(x), model(x), atol=1e-6)
    assert not model.training


def test_export_restores_training_mode(tmp_path):
    torch.manual_seed(0)
    m = DescriptorModel(BACKBONE, dim=8).train()
    export_torchscript(m, tmp_path / "m.pt")
    assert m.training


def test_checkpoint_round_trip_rebuilds_model_and_optimiser(tmp_path):
    torch.manual_seed(0)
    m = DescriptorModel(BACKBONE, dim=8)
    opt = torch.optim.AdamW(m.parameters(), lr=1e-3)
    m(torch.rand(2, 3, 32, 32)).sum().backward()
    opt.step()
    path = save_checkpoint(tmp_path / "ck" / "last.ckpt", CHECKPOINT_KIND, m, optimizer=opt, epoch=4, extra={"best": 0.5})
    assert [p.name for p in path.parent.iterdir()] == ["last.ckpt"]

    state = read_checkpoint(path, kind=CHECKPOINT_KIND)
    assert (state.kind, state.epoch, state.extra) == ("descriptor", 4, {"best": 0.5})
    assert state.config == {"backbone": BACKBONE, "dim": 8, "gem_p": 3.0, "input_size": 224}
    m2 = DescriptorModel(**state.config)  # the checkpoint alone rebuilds the model
    opt2 = torch.optim.AdamW(m2.parameters(), lr=1e-3)
    assert not torch.equal(m2.proj.weight, m.proj.weight)
    m2.load_state_dict(state.state_dict)
    opt2.load_state_dict(state.optimizer)
    for (k, v), (k2, v2) in zip(m.state_dict().items(), m2.state_dict().items(), strict=True):
        assert k == k2 and torch.equal(v, v2), k
    s1, s2 = opt.state_dict(), opt2.state_dict()
    assert s1["param_groups"] == s2["param_groups"]
    assert s1["state"].keys() == s2["state"].keys() and len(s1["state"]) > 0
    for key in s1["state"]:
        for name, value in s1["state"][key].items():
            assert torch.equal(torch.as_tensor(value), torch.as_tensor(s2["state"][key][name]))


def test_overwrite_is_atomic_and_the_kind_is_checked(tmp_path):
    torch.manual_seed(0)
    m = DescriptorModel(BACKBONE, dim=8)
    path = tmp_path / "c.ckpt"
    save_checkpoint(path, CHECKPOINT_KIND, m, epoch=1)
    save_checkpoint(path, CHECKPOINT_KIND, m, epoch=2)
    assert [p.name for p in tmp_path.iterdir()] == ["c.ckpt"]
    assert read_checkpoint(path).epoch == 2 and read_checkpoint(path).optimizer is None
    with pytest.raises(CheckpointError, match="c.ckpt: a descriptor checkpoint, expected video_transformer"):
        read_checkpoint(path, kind="video_transformer")
    with pytest.raises(ValueError, match="config is required"):
        save_checkpoint(tmp_path / "x.ckpt", "thing", torch.nn.Linear(2, 2))


def test_every_older_format_is_refused_with_retrain(tmp_path):
    torch.manual_seed(0)
    m = DescriptorModel(BACKBONE, dim=8)
    # format 1 of the descriptor models: {"format": 1, "model": ..., "optimizer", "epoch", "extra"}
    torch.save({"format": 1, "model": m.state_dict(), "optimizer": None, "epoch": 3, "extra": {}}, tmp_path / "descriptor_v1.ckpt")
    with pytest.raises(CheckpointError, match=r"descriptor_v1.ckpt: descriptor checkpoint format 1, this version reads format 3: retrain it"):
        read_checkpoint(tmp_path / "descriptor_v1.ckpt")
    # formats 1 and 2 of the video transformer: {"format", "kind", "config", "state_dict", "extra"}
    for old in (1, 2):
        torch.save({"format": old, "kind": "video_transformer", "config": {}, "state_dict": {}, "extra": {}}, tmp_path / f"vt_v{old}.pt")
        with pytest.raises(CheckpointError, match=rf"vt_v{old}.pt: video_transformer checkpoint format {old}.*retrain it"):
            read_checkpoint(tmp_path / f"vt_v{old}.pt")
    assert CHECKPOINT_FORMAT == 3


def test_missing_and_foreign_files_name_themselves(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.ckpt"):
        read_checkpoint(tmp_path / "nope.ckpt")
    (tmp_path / "junk.ckpt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="junk.ckpt"):
        read_checkpoint(tmp_path / "junk.ckpt")
    torch.save([1, 2], tmp_path / "list.ckpt")
    with pytest.raises(CheckpointError, match="list.ckpt: not a checkpoint"):
        read_checkpoint(tmp_path / "list.ckpt")
    (tmp_path / "bad.pt").write_bytes(b"xx")
    with pytest.raises(ValueError, match="bad.pt: not a TorchScript file"):
        load_torchscript(tmp_path / "bad.pt")
