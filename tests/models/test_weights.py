"""load_state_dict_file: the published checkpoint layouts load, anything that does not fit fails loudly."""

import pytest
import torch
import torch.nn.functional as F
import torchvision.models as tvm
from torch import nn

from video_similarity.models.clip_encoders import CLIP_HEAD_PREFIXES, x3d_s
from video_similarity.models.frame_encoders import resnet50_avgpool
from video_similarity.models.weights import (
    WeightsFileError,
    load_state_dict_file,
    read_state_dict,
)


pytestmark = pytest.mark.usefixtures("one_thread")

SMALL = {"clip_frames": 4, "input_size": 64}


def randomise_bn(model, seed):
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
    return model


@pytest.fixture(scope="module")
def x3d_source():
    """A seeded X3D-S and its state dict as a .pyth file would hold it (with the head's proj)."""
    torch.manual_seed(11)
    enc = randomise_bn(x3d_s(**SMALL), 11)
    state = dict(enc.state_dict())
    state["blocks.5.proj.weight"] = torch.randn(400, 2048)
    state["blocks.5.proj.bias"] = torch.randn(400)
    clips = torch.rand(2, 3, 4, 64, 64)
    with torch.no_grad():
        out = enc(clips)
    return state, clips, out


LAYOUTS = {
    "plain": lambda sd: sd,
    "state_dict": lambda sd: {"state_dict": sd, "epoch": 3},
    "model_state": lambda sd: {"model_state": sd, "epoch": 196, "cfg": "TRAIN:\n  ENABLE: True\n"},
    "model": lambda sd: {"model": sd, "optimizer": None, "epoch": 1},
    "module_prefix": lambda sd: {f"module.{k}": v for k, v in sd.items()},
    "state_dict_module_prefix": lambda sd: {"state_dict": {f"module.{k}": v for k, v in sd.items()}},
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_x3d_checkpoint_layouts_load(x3d_source, layout, tmp_path):
    state, clips, expected = x3d_source
    path = tmp_path / "X3D_S.pyth"
    torch.save(LAYOUTS[layout](state), path)
    torch.manual_seed(99)  # a different init, replaced by the file
    enc = x3d_s(str(path), **SMALL)
    assert not enc.training
    with torch.no_grad():
        got = enc(clips)
    torch.testing.assert_close(got, expected)


def test_torchvision_resnet50_checkpoint_loads(tmp_path):
    torch.manual_seed(12)
    source = randomise_bn(tvm.resnet50(weights=None), 12).eval()
    path = tmp_path / "resnet50-0676ba61.pth"
    torch.save(source.state_dict(), path)  # torchvision layout, fc.* included
    torch.manual_seed(13)
    enc = resnet50_avgpool(path, input_size=64)
    images = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        got = enc(images)
        x = (images - torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)) / torch.tensor(
            [0.229, 0.224, 0.225]
        ).view(1, 3, 1, 1)
        trunk = nn.Sequential(*list(source.children())[:-1])  # ... avgpool, no fc
        expected = F.normalize(trunk(x).flatten(1), dim=-1)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)
    # without ignoring the head the fc keys are unexpected
    with pytest.raises(ValueError, match=r"fc\.bias, fc\.weight"):
        load_state_dict_file(enc, path)


def tiny():
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(4, 2))


def test_missing_keys_name_the_file(tmp_path):
    state = tiny().state_dict()
    del state["0.weight"], state["3.bias"]
    path = tmp_path / "partial.pt"
    torch.save(state, path)
    with pytest.raises(ValueError, match="partial.pt") as err:
        load_state_dict_file(tiny(), path)
    assert isinstance(err.value, WeightsFileError)
    assert "(2 missing, 0 unexpected, 0 shape mismatches); missing: 0.weight, 3.bias" in str(err.value)
    # strict=False loads what is there
    model = tiny()
    reference = tiny()
    reference.load_state_dict(state, strict=False)
    assert load_state_dict_file(model, path, strict=False) is model
    torch.testing.assert_close(model[1].running_var, reference[1].running_var)


def test_unexpected_and_mismatched_keys(tmp_path):
    state = tiny().state_dict()
    state["head.weight"] = torch.zeros(1)
    path = tmp_path / "extra.pt"
    torch.save(state, path)
    with pytest.raises(ValueError, match="extra.pt.*1 unexpected.*unexpected: head.weight"):
        load_state_dict_file(tiny(), path)
    load_state_dict_file(tiny(), path, ignore_prefixes=("head.",))
    state = tiny().state_dict()
    state["3.weight"] = torch.zeros(3, 4)
    torch.save(state, path)
    with pytest.raises(ValueError, match=r"1 shape mismatches\); shape mismatch: 3\.weight \(3, 4\) vs \(2, 4\)"):
        load_state_dict_file(tiny(), path, strict=False)


def test_missing_batchnorm_counters_are_tolerated(tmp_path):
    source = tiny()
    state = {k: v for k, v in source.state_dict().items() if not k.endswith("num_batches_tracked")}
    path = tmp_path / "old.pt"
    torch.save(state, path)
    model = load_state_dict_file(tiny(), path)
    torch.testing.assert_close(model[0].weight, source[0].weight)


def test_missing_and_foreign_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.pth"):
        load_state_dict_file(tiny(), tmp_path / "nope.pth")
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="junk.pth"):
        load_state_dict_file(tiny(), junk)
    listing = tmp_path / "list.pth"
    torch.save([1, 2, 3], listing)
    with pytest.raises(ValueError, match="list.pth.*expected a state dict"):
        read_state_dict(listing)


class Opaque:
    """A pickled Python object: weights_only loading refuses it."""


def test_pickled_objects_need_weights_only_false(tmp_path):
    source = tiny()
    path = tmp_path / "trainer.ckpt"
    torch.save({"state_dict": source.state_dict(), "trainer": Opaque()}, path)
    with pytest.raises(ValueError, match="trainer.ckpt.*weights_only=False"):
        load_state_dict_file(tiny(), path)
    model = load_state_dict_file(tiny(), path, weights_only=False)
    torch.testing.assert_close(model[3].weight, source[3].weight)


def test_clip_head_prefix_is_the_published_name():
    assert CLIP_HEAD_PREFIXES == ("blocks.5.proj.",)
