"""Model #2 video transformer: masking, long videos, checkpoints and the contrastive step."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from video_similarity.models.checkpoint import save_checkpoint
from video_similarity.models.video_transformer import (
    CHECKPOINT_KIND,
    VideoTransformer,
    contrastive_step,
    encode_video,
    load_video_transformer,
    video_vector,
)

CFG = {"input_dim": 16, "dim": 32, "depth": 2, "heads": 4, "max_len": 8, "dropout": 0.1}


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def model():
    """An encoder whose transformer branch is open (a new one's gate is 0 and hides it)."""
    torch.manual_seed(0)
    m = VideoTransformer(**CFG).eval()
    with torch.no_grad():
        m.context_gate.fill_(1.0)
    return m


def test_defaults():
    m = VideoTransformer()
    assert m.config == {
        "input_dim": 2048, "dim": 512, "depth": 2, "heads": 8,
        "max_len": 256, "dropout": 0.1, "mlp_ratio": 4.0,
    }
    assert len(m.encoder.layers) == 2 and m.encoder.layers[0].norm_first
    assert m.pos_embed.shape == (1, 256, 512)
    assert m.context_gate.item() == 0.0
    with pytest.raises(ValueError):
        VideoTransformer(dim=30, heads=8)


def test_shapes_unit_norm_and_zero_padding(model):
    x = torch.randn(3, 6, 16)
    mask = torch.zeros(3, 6, dtype=torch.bool)
    mask[1, 4:] = True
    mask[2, :] = True  # an all-padding row must not produce NaN
    out = model(x, mask)
    assert out.shape == (3, 6, 32)
    assert torch.isfinite(out).all()
    norms = out.norm(dim=-1)
    assert torch.allclose(norms[~mask], torch.ones(int((~mask).sum())), atol=1e-5)
    assert (norms[mask] == 0).all()
    v = model.video_vector(out, mask)
    assert v.shape == (3, 32)
    assert torch.allclose(v[:2].norm(dim=-1), torch.ones(2), atol=1e-5)
    assert (v[2] == 0).all()


@pytest.mark.parametrize("grad", [True, False])  # no_grad + eval takes PyTorch's fast path
def test_padding_does_not_leak(model, grad):
    torch.manual_seed(1)
    a, b = torch.randn(5, 16), torch.randn(3, 16)
    garbage = torch.full((4, 16), 1e4)
    garbage[0, 0] = float("nan")
    batch = torch.stack([torch.cat([a, garbage[:2]]), torch.cat([b, garbage])[:7]])
    mask = torch.tensor([[False] * 5 + [True] * 2, [False] * 3 + [True] * 4])
    with torch.set_grad_enabled(grad):
        out = model(batch, mask)
        alone_a, alone_b = model(a[None]), model(b[None])
        vec = video_vector(out, mask)
    assert torch.allclose(out[0, :5], alone_a[0], atol=1e-5)
    assert torch.allclose(out[1, :3], alone_b[0], atol=1e-5)
    assert torch.allclose(vec[0], video_vector(alone_a)[0], atol=1e-5)
    assert torch.allclose(vec[1], video_vector(alone_b)[0], atol=1e-5)


def test_video_vector_is_masked_mean():
    f = F.normalize(torch.randn(2, 4, 8), dim=-1)
    mask = torch.tensor([[False, False, True, True], [False, False, False, False]])
    v = video_vector(f, mask)
    assert torch.allclose(v[0], F.normalize(f[0, :2].mean(0), dim=0), atol=1e-6)
    assert torch.allclose(v[1], F.normalize(f[1].mean(0), dim=0), atol=1e-6)


def test_encode_video_longer_than_max_len_uses_windows(model):
    frames = np.random.default_rng(0).standard_normal((21, 16)).astype(np.float32)  # windows 8 + 8 + 5
    model.train()
    out = encode_video(model, frames)
    assert model.training  # mode restored
    assert out.shape == (21, 32) and out.dtype == np.float32
    assert np.allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    for lo, hi in ((0, 8), (8, 16), (16, 21)):
        assert np.allclose(out[lo:hi], encode_video(model, frames[lo:hi]), atol=1e-5)
    assert encode_video(model, np.zeros((0, 16), np.float32)).shape == (0, 32)


def test_windows_respect_padding_in_batches(model):
    torch.manual_seed(2)
    x = torch.randn(2, 19, 16)
    mask = torch.zeros(2, 19, dtype=torch.bool)
    mask[1, 6:] = True  # second video: 6 frames, so its windows 2 and 3 are all padding
    with torch.no_grad():
        out = model(x, mask)
        assert torch.allclose(out[0], model(x[:1])[0], atol=1e-5)
        assert torch.allclose(out[1, :6], model(x[1:, :6])[0], atol=1e-5)
    assert torch.isfinite(out).all() and (out[1, 6:] == 0).all()


def test_untrained_encoder_passes_the_projected_features_through():
    torch.manual_seed(0)
    m = VideoTransformer(**CFG).eval()
    with torch.no_grad():
        m.input_mean.copy_(torch.randn(16))
        x = torch.randn(2, 11, 16)  # longer than max_len: windows too
        expected = F.normalize(m.input_proj(x - m.input_mean), dim=-1)
        assert torch.allclose(m(x), expected, atol=1e-6)
        m.context_gate.fill_(0.5)  # once the gate opens, frames get context from their neighbours
        assert not torch.allclose(m(x), expected, atol=1e-3)


def test_checkpoint_roundtrip(model, tmp_path):
    path = tmp_path / "sub" / "vt.ckpt"
    save_checkpoint(path, CHECKPOINT_KIND, model, epoch=3)  # config defaults to model.config
    assert [p.name for p in path.parent.iterdir()] == ["vt.ckpt"]  # no temporary left behind
    loaded = load_video_transformer(path)
    assert not loaded.training and loaded.config == model.config
    x = torch.randn(2, 11, 16)
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))
    assert torch.load(path, weights_only=True)["epoch"] == 3

    with pytest.raises(FileNotFoundError, match="missing.pt"):
        load_video_transformer(tmp_path / "missing.pt")
    torch.save({"state_dict": {}}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="other.pt"):
        load_video_transformer(tmp_path / "other.pt")
    save_checkpoint(tmp_path / "descriptor.ckpt", "descriptor", model)
    with pytest.raises(ValueError, match="descriptor.ckpt: a descriptor checkpoint, expected video_transformer"):
        load_video_transformer(tmp_path / "descriptor.ckpt")
    for old_format in (1, 2):  # before the context gate; before the one checkpoint format
        old = torch.load(path, weights_only=True)
        old["format"] = old_format
        torch.save(old, tmp_path / f"format{old_format}.pt")
        with pytest.raises(ValueError, match=f"format{old_format}.pt: video_transformer checkpoint format {old_format}.*retrain it"):
            load_video_transformer(tmp_path / f"format{old_format}.pt")


def _views(base, gen, noise=0.3):
    """A noisy view of each sequence with random tail padding."""
    b, t, _ = base.shape
    x = base + noise * torch.randn(base.shape, generator=gen)
    lengths = torch.randint(t // 2, t + 1, (b,), generator=gen)
    mask = torch.arange(t)[None] >= lengths[:, None]
    return x, mask


def _train(steps=30, lr=0.1):
    """Plain gradient descent by hand: torch.optim would import torch._dynamo (seconds of start-up)."""
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    model = VideoTransformer(input_dim=16, dim=32, depth=1, heads=4, max_len=16, dropout=0.0)
    params = list(model.parameters())
    base = torch.randn(16, 12, 16, generator=gen)
    losses = []
    for _ in range(steps):
        a, a_mask = _views(base, gen)
        b, b_mask = _views(base, gen)
        loss = contrastive_step(model, a, a_mask, b, b_mask, tau=0.1)
        grads = torch.autograd.grad(loss, params)
        with torch.no_grad():
            for p, g in zip(params, grads):
                p -= lr * g
        losses.append(loss.item())
    return losses


def test_contrastive_step_loss_decreases_deterministically():
    losses = _train()
    assert all(np.isfinite(losses))
    assert np.mean(losses[-5:]) < 0.5 * np.mean(losses[:5]), losses
    assert _train(steps=3) == losses[:3]
