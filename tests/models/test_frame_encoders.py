"""Frame encoders: ResNet-50 avg pool, R-MAC, L3-iMAC and PCA-whitening (spec section 7).

R-MAC and iMAC are checked against an explicit computation from a plain
torchvision ResNet-50 holding the same weights, so a wrong layout, a missing
per-stage L2 or a transposed region order would fail.
"""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision.models as tvm

from video_similarity.models.frame_encoders import (
    PCAWhitening,
    RegionalMAC,
    ResNet50AvgPool,
    _resnet_stage_sizes,
    fit_whitening,
    resnet50_avgpool,
    resnet50_imac,
    resnet50_rmac,
    rmac_region_layout,
)


pytestmark = pytest.mark.usefixtures("one_thread")

MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def randomise_bn(model, seed=0):
    """Non-trivial running statistics, so eval-mode BatchNorm is not the identity."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
    return model


@pytest.fixture(scope="module")
def rmac():
    torch.manual_seed(0)
    return randomise_bn(resnet50_rmac())


@pytest.fixture(scope="module")
def reference(rmac):
    """Plain torchvision ResNet-50 with the encoder's weights (its fc stays random)."""
    net = tvm.resnet50(weights=None).eval()
    result = net.load_state_dict(rmac.state_dict(), strict=False)
    assert set(result.missing_keys) == {"fc.weight", "fc.bias"} and not result.unexpected_keys
    return net


@pytest.fixture(scope="module")
def batch128(rmac):
    """Two 128 px frames and their R-MAC regions (computed once: CPU forwards are slow)."""
    torch.manual_seed(5)
    images = torch.rand(2, 3, 128, 128)
    with torch.no_grad():
        return images, rmac.regions(images)


def stage_outputs(net, images):
    """layer1..layer4 outputs of a torchvision ResNet-50, ImageNet-normalised input."""
    x = (images - MEAN) / STD
    x = net.maxpool(net.relu(net.bn1(net.conv1(x))))
    out = []
    for layer in (net.layer1, net.layer2, net.layer3, net.layer4):
        x = layer(x)
        out.append(x)
    return out


def test_region_layout_at_224_is_the_spec():
    stages = _resnet_stage_sizes(224)
    assert stages == [56, 28, 14, 7]
    layouts = [rmac_region_layout(s) for s in stages]
    assert [k for k, _ in layouts] == [28, 14, 6, 3]
    assert [s for _, s in layouts] == [14, 7, 3, 2]


def test_region_layout_rule_for_every_stage_size():
    impossible = []
    for s in range(1, 120):
        try:
            k, stride = rmac_region_layout(s)
        except ValueError:
            impossible.append(s)
            continue
        assert stride == math.ceil(k / 2)
        assert (s - k) // stride + 1 == 3
        assert k <= s / 2
        # no larger kernel gives a 3x3 grid
        assert all((s - j) // math.ceil(j / 2) + 1 != 3 for j in range(k + 1, s + 1))
        assert F.max_pool2d(torch.zeros(1, 1, s, s), k, stride).shape[-2:] == (3, 3)
    assert impossible == [1, 2, 5, 6, 10]


def test_rmac_rejects_input_sizes_without_a_grid():
    with pytest.raises(ValueError, match="3x3 grid"):
        resnet50_rmac(input_size=96)  # stage 3 is 6x6
    with pytest.raises(ValueError, match="mode"):
        RegionalMAC(mode="gem")


def test_stages_match_torchvision(rmac, reference):
    images = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        got = rmac.stages(images)
        expected = stage_outputs(reference, images)
    assert [o.shape[1] for o in got] == [256, 512, 1024, 2048]
    for g, e in zip(got, expected):
        torch.testing.assert_close(g, e, rtol=1e-4, atol=1e-5)
    assert _resnet_stage_sizes(64) == [o.shape[-1] for o in got]
    assert _resnet_stage_sizes(128) == [32, 16, 8, 4]


def test_rmac_regions_match_explicit_computation_at_224(rmac):
    torch.manual_seed(1)
    images = torch.rand(1, 3, 224, 224)  # the spec's size; batch 1 keeps it fast on CPU
    with torch.no_grad():
        got = rmac.regions(images)
        outs = rmac.stages(images)  # checked against torchvision above
    assert [o.shape[-1] for o in outs] == [56, 28, 14, 7]
    per_stage = []
    for fmap, kernel in zip(outs, (28, 14, 6, 3)):
        pooled = F.max_pool2d(fmap, kernel, math.ceil(kernel / 2))
        assert pooled.shape[-2:] == (3, 3)
        # region r = (row, col) in row-major order
        vectors = torch.stack([pooled[:, :, r // 3, r % 3] for r in range(9)], dim=1)
        per_stage.append(F.normalize(vectors, dim=-1))
    expected = F.normalize(torch.cat(per_stage, dim=-1), dim=-1)
    assert got.shape == (1, 9, 3840)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)
    # every stage block had unit norm before the final L2 over 4 blocks: now 1/2 each
    bounds = np.cumsum([0, 256, 512, 1024, 2048])
    for a, b in zip(bounds[:-1], bounds[1:]):
        torch.testing.assert_close(got[..., a:b].norm(dim=-1), torch.full((1, 9), 0.5))


def test_rmac_frame_vector_is_the_mean_region(rmac, batch128):
    images, regions = batch128
    with torch.no_grad():
        out = rmac(images)
    assert regions.shape == (2, 9, 3840)
    assert out.shape == (2, rmac.dim) == (2, 3840) and out.dtype == torch.float32
    torch.testing.assert_close(out, F.normalize(regions.mean(dim=1), dim=-1), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(out.norm(dim=1), torch.ones(2))
    assert (rmac.kind, rmac.input_size, rmac.mode) == ("frames", 224, "rmac") and not rmac.training


@pytest.fixture(scope="module")
def imac(rmac):
    enc = resnet50_imac(input_size=64)
    enc.load_state_dict(rmac.state_dict())
    return enc


def test_imac_matches_per_stage_global_max(imac, reference):
    torch.manual_seed(2)
    images = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        got = imac(images)
        regions = imac.regions(images)
        outs = stage_outputs(reference, images)
    expected = F.normalize(
        torch.cat([F.normalize(o.amax(dim=(-2, -1)), dim=-1) for o in outs], dim=-1), dim=-1
    )
    assert regions.shape == (2, 1, 3840)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(regions[:, 0], expected, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(got.norm(dim=1), torch.ones(2))
    assert imac.dim == 3840 and imac.kind == "frames" and imac.input_size == 64


def test_avgpool_matches_torchvision(rmac, reference):
    enc = resnet50_avgpool()
    assert isinstance(enc, ResNet50AvgPool) and not enc.training
    assert (enc.kind, enc.input_size, enc.dim) == ("frames", 224, 2048)
    assert not any(k.startswith("fc.") for k in enc.state_dict())
    enc.load_state_dict(rmac.state_dict())
    images = torch.rand(2, 3, 64, 64)  # average pooling works at any size
    with torch.no_grad():
        got = enc(images)
        pooled = stage_outputs(reference, images)[-1].mean(dim=(-2, -1))
    assert got.shape == (2, 2048) and got.dtype == torch.float32
    torch.testing.assert_close(got, F.normalize(pooled, dim=-1), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(got.norm(dim=1), torch.ones(2))


def correlated(n, d, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)) @ rng.normal(size=(d, d)) + rng.normal(size=d) * 5


def test_whitening_gives_identity_covariance():
    x = correlated(600, 24)
    w = fit_whitening(x, dims=12)
    assert (w.input_dim, w.dim) == (24, 12)
    y = w(torch.as_tensor(x, dtype=torch.float32)).double().numpy()
    np.testing.assert_allclose(y.mean(axis=0), 0, atol=1e-4)
    np.testing.assert_allclose(np.cov(y, rowvar=False), np.eye(12), atol=1e-3)
    assert fit_whitening(x).dim == 24
    assert fit_whitening(x[:10]).dim == 9  # centred data has rank N - 1
    with pytest.raises(ValueError):
        fit_whitening(x[:1])


def test_whitening_save_load_roundtrip(tmp_path):
    w = fit_whitening(correlated(100, 16), dims=8)
    path = w.save(tmp_path / "sub" / "white.npz")
    assert path.is_file() and not list(path.parent.glob(".*tmp"))
    back = PCAWhitening.load(path)
    torch.testing.assert_close(back.mean, w.mean)
    torch.testing.assert_close(back.projection, w.projection)
    x = torch.randn(5, 16)
    torch.testing.assert_close(back(x), w(x))
    assert "mean" not in w.state_dict()  # kept out of encoder state dicts
    with pytest.raises(FileNotFoundError, match="nope.npz"):
        PCAWhitening.load(tmp_path / "nope.npz")


def test_rmac_with_whitening(rmac, batch128, tmp_path):
    images, regions = batch128
    w = fit_whitening(regions.reshape(-1, 3840).numpy(), dims=8)
    path = w.save(tmp_path / "w.npz")
    white = resnet50_rmac(whitening=str(path), input_size=128)
    white.load_state_dict(rmac.state_dict())  # whitening is not in the state dict
    with torch.no_grad():
        got = white(images)
    expected = F.normalize(F.normalize(w(regions), dim=-1).mean(dim=1), dim=-1)
    assert white.dim == 8 and got.shape == (2, 8)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(got.norm(dim=1), torch.ones(2))
    with pytest.raises(ValueError, match="3840"):
        resnet50_imac(whitening=PCAWhitening(np.zeros(10), np.eye(10)))


def test_imac_with_whitening(imac):
    torch.manual_seed(4)
    w = PCAWhitening(torch.randn(3840) * 0.01, torch.randn(3840, 6))
    images = torch.rand(2, 3, 64, 64)
    try:
        imac.whitening = w
        assert imac.dim == 6
        with torch.no_grad():
            got = imac(images)
            expected = F.normalize(w(imac.regions(images)[:, 0]), dim=-1)
    finally:
        imac.whitening = None
    assert got.shape == (2, 6)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)
    assert imac.dim == 3840
