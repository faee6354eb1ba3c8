"""Descriptor model: unit outputs, GeM limits (persistence: test_checkpoint.py)."""

import pytest
import torch
import torch.nn.functional as F

from video_similarity.models.descriptor import DescriptorModel
from video_similarity.models.pooling import GeM

BACKBONE = "mobilenet_v3_small"  # the cheapest registered one


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return DescriptorModel(BACKBONE, dim=32).eval()


def test_output_shape_and_unit_norm(model):
    with torch.no_grad():
        out = model(torch.rand(3, 3, 64, 64))
    assert out.shape == (3, 32)
    assert torch.allclose(out.norm(dim=1), torch.ones(3), atol=1e-5)


def test_normalisation_is_inside_the_model(model):
    # [0, 1] input convention: the ImageNet mean image must reach the trunk as zeros.
    mean = model.mean.expand(1, 3, 8, 8)
    seen = {}
    handle = model.trunk.register_forward_pre_hook(lambda m, args: seen.setdefault("x", args[0]))
    try:
        with torch.no_grad():
            model(mean)
    finally:
        handle.remove()
    assert torch.allclose(seen["x"], torch.zeros_like(seen["x"]), atol=1e-6)


def test_gradients_reach_backbone_and_gem():
    torch.manual_seed(0)
    m = DescriptorModel(BACKBONE, dim=8)
    m(torch.rand(2, 3, 32, 32)).sum().backward()
    assert m.pool.p.grad is not None and torch.isfinite(m.pool.p.grad).all()
    assert m.proj.weight.grad.abs().sum() > 0
    assert next(m.trunk.parameters()).grad is not None


def test_gem_p1_equals_average_pool():
    x = torch.rand(2, 5, 4, 6) + 0.01
    got = GeM(p=1.0)(x)
    assert got.shape == (2, 5)
    assert torch.allclose(got, F.adaptive_avg_pool2d(x, 1).flatten(1), atol=1e-6)


def test_gem_approaches_max_pool_for_large_p():
    torch.manual_seed(0)
    x = torch.rand(2, 5, 4, 4) * 0.9 + 0.1
    maxpool = x.amax(dim=(-2, -1))
    avg = x.mean(dim=(-2, -1))
    errors = [(GeM(p=p, learnable=False)(x) - maxpool).abs().max().item() for p in (3, 10, 30, 60)]
    assert errors == sorted(errors, reverse=True)
    assert errors[-1] < 0.05
    assert (maxpool - avg).abs().max() > 0.2  # the limit is not trivially met


def test_gem_learnable_flag():
    assert isinstance(GeM(learnable=True).p, torch.nn.Parameter)
    fixed = GeM(learnable=False)
    assert not isinstance(fixed.p, torch.nn.Parameter)
    assert "p" in fixed.state_dict()


def test_unknown_backbone():
    with pytest.raises(ValueError, match="unknown backbone"):
        DescriptorModel("not_a_backbone")
