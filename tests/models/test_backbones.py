"""The descriptor trunks: every one builds offline, and torchvision weights load through the one loader only when they fit."""

import pytest
import torch
import torchvision.models as tvm

from video_similarity.models.backbones import HEAD_PREFIXES, TRUNKS, build_trunk
from video_similarity.models.weights import WeightsFileError, load_state_dict_file


def load_trunk_weights(trunk, path):
    return load_state_dict_file(trunk, path, ignore_prefixes=HEAD_PREFIXES)

EXPECTED = {"resnet18", "resnet50", "efficientnet_b0", "mobilenet_v3_small", "mobilenet_v3_large"}


def test_registry_has_required_backbones():
    assert EXPECTED <= set(TRUNKS)


@pytest.mark.parametrize("name", sorted(TRUNKS))
def test_backbone_maps_images_to_declared_channels(name):
    trunk, channels = build_trunk(name)
    trunk.eval()
    with torch.no_grad():
        out = trunk(torch.rand(2, 3, 64, 64))
    assert out.dim() == 4
    assert out.shape[:2] == (2, channels)
    assert out.shape[2] >= 1 and out.shape[3] >= 1


def test_unknown_backbone_lists_known_names():
    with pytest.raises(ValueError, match="unknown backbone 'nope'.*resnet18"):
        build_trunk("nope")


def test_every_trunk_is_a_descriptor_encoder_of_the_one_registry():
    from video_similarity.models.registry import REGISTRY

    assert set(TRUNKS) <= set(REGISTRY)


def _reference_resnet18(seed=0):
    torch.manual_seed(seed)
    return tvm.resnet18(weights=None)


def _assert_trunk_equals(trunk, reference):
    expected = {k: v for k, v in reference.state_dict().items() if not k.startswith("fc.")}
    got = trunk.state_dict()
    assert set(got) == set(expected)
    for key, value in expected.items():
        assert torch.equal(got[key], value), key


@pytest.mark.parametrize("wrapping", ["plain", "state_dict_key", "module_prefix"])
def test_loading_torchvision_state_dict_reproduces_weights(tmp_path, wrapping):
    reference = _reference_resnet18(seed=0)
    state = reference.state_dict()
    if wrapping == "state_dict_key":
        state = {"state_dict": state, "epoch": 3}
    elif wrapping == "module_prefix":
        state = {f"module.{k}": v for k, v in state.items()}
    path = tmp_path / "resnet18.pth"
    torch.save(state, path)

    torch.manual_seed(1)  # a different init, so equality below can only come from the file
    fresh, _ = build_trunk("resnet18")
    assert not torch.equal(fresh.state_dict()["conv1.weight"], reference.state_dict()["conv1.weight"])

    trunk, _ = build_trunk("resnet18", weights_path=path)
    _assert_trunk_equals(trunk, reference)

    # The loaded trunk computes what the torchvision classifier computes before pooling.
    reference.eval()
    trunk.eval()
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        r = reference
        expected = r.layer4(r.layer3(r.layer2(r.layer1(r.maxpool(r.relu(r.bn1(r.conv1(x))))))))
        assert torch.allclose(trunk(x), expected)


def test_descriptor_model_starts_from_the_file(tmp_path):
    from video_similarity.models.registry import build_encoder

    reference = _reference_resnet18(seed=0)
    path = tmp_path / "w.pth"
    torch.save(reference.state_dict(), path)
    model = build_encoder("resnet18", weights_path=str(path), dim=16, input_size=32)
    _assert_trunk_equals(model.trunk, reference)


def test_wrong_architecture_raises_naming_file_and_counts(tmp_path):
    path = tmp_path / "resnet18_weights.pth"
    torch.save(_reference_resnet18().state_dict(), path)
    trunk, _ = build_trunk("mobilenet_v3_small")
    with pytest.raises(WeightsFileError) as info:
        load_trunk_weights(trunk, path)
    message = str(info.value)
    assert "resnet18_weights.pth" in message
    counted = [k for k in trunk.state_dict() if not k.endswith("num_batches_tracked")]  # old checkpoints lack those
    assert f"{len(counted)} missing" in message
    assert "unexpected" in message


def test_shape_mismatch_raises(tmp_path):
    state = _reference_resnet18().state_dict()
    state["conv1.weight"] = torch.zeros(64, 3, 5, 5)
    path = tmp_path / "bad_shape.pth"
    torch.save(state, path)
    with pytest.raises(WeightsFileError, match=r"bad_shape\.pth.*1 shape mismatches"):
        build_trunk("resnet18", weights_path=path)


def test_garbage_file_raises_clear_error(tmp_path):
    path = tmp_path / "not_weights.pth"
    path.write_bytes(b"this is not a pytorch file")
    with pytest.raises(WeightsFileError, match="not_weights.pth"):
        build_trunk("resnet18", weights_path=path)


def test_non_state_dict_object_raises(tmp_path):
    path = tmp_path / "list.pth"
    torch.save([torch.zeros(1)], path)
    with pytest.raises(WeightsFileError, match="list.pth"):
        build_trunk("resnet18", weights_path=path)


def test_missing_file_raises(tmp_path):
    with pytest.raises(FileNotFoundError, match="absent.pth"):
        build_trunk("resnet18", weights_path=tmp_path / "absent.pth")
