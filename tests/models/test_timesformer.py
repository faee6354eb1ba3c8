"""TimeSformer / 3D-CSL clip encoder: shapes, divided attention semantics, checkpoint loading."""

import pytest
import torch
import torch.nn.functional as F

from video_similarity.models.timesformer import (
    CSL3D_PREFIX,
    SimilarityRecognizer,
    csl3d_base,
    csl3d_small,
)

TINY = {"img_size": 32, "patch_size": 16, "depth": 2, "embed_dim": 64, "num_heads": 4, "num_frames": 4}


pytestmark = pytest.mark.usefixtures("one_thread")


def tiny(seed=0, **kw):
    torch.manual_seed(seed)
    return SimilarityRecognizer("base", **{**TINY, **kw}).eval()


def randomise(model, seed=1):
    """Give every parameter (time_embed and zero-initialised temporal_fc included) random values."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm1.weight") or name.endswith("norm2.weight") or name.endswith("norm.weight"):
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
    return model


def clips(b=2, t=4, size=32, seed=3):
    return torch.rand(b, 3, t, size, size, generator=torch.Generator().manual_seed(seed))


def test_tiny_shapes_unit_norm_and_input_scaling():
    model = randomise(tiny())
    x = clips(3)
    with torch.no_grad():
        out = model(x)
        direct = model.extract_features(x * 2 - 1)
    assert out.shape == (3, 64)
    assert torch.allclose(out.norm(dim=1), torch.ones(3), atol=1e-5)
    assert torch.allclose(out, direct, atol=1e-6)
    assert (model.kind, model.input_size, model.clip_frames, model.frame_stride, model.dim) == (
        "clips", 32, 4, 1, 64,
    )


def test_base_and_small_defaults():
    with torch.device("meta"):  # shapes only: skips allocating and initialising ~150M parameters
        base, small = csl3d_base(), csl3d_small()
    for model, dim, heads in ((base, 768, 12), (small, 384, 6)):
        vit = model.backbone
        assert (model.kind, model.input_size, model.clip_frames, model.frame_stride) == ("clips", 224, 8, 1)
        assert model.dim == dim and model.batch_size == 8
        assert len(vit.blocks) == 12
        assert vit.blocks[0].attn.num_heads == heads and vit.blocks[0].temporal_attn.num_heads == heads
        assert vit.pos_embed.shape == (1, 197, dim)
        assert vit.time_embed.shape == (1, 8, dim)
        assert vit.patch_embed.proj.weight.shape == (dim, 3, 16, 16)
        assert vit.blocks[0].mlp.fc1.weight.shape == (4 * dim, dim)
        assert vit.blocks[0].attn.qkv.bias is not None
        assert vit.norm.eps == 1e-6
    # The published layout: every key under feature_extractor.model., no head.
    keys = list(base.state_dict())
    assert all(k.startswith(CSL3D_PREFIX) for k in keys)
    assert f"{CSL3D_PREFIX}blocks.11.temporal_fc.weight" in keys
    assert not any(".head." in k for k in keys)
    # Parameter count from the architecture: per block two LayerNorm'd attentions, temporal_fc, MLP.
    for model, d in ((base, 768), (small, 384)):
        attn = (d * 3 * d + 3 * d) + (d * d + d)
        block = 3 * (2 * d) + 2 * attn + (d * d + d) + (d * 4 * d + 4 * d) + (4 * d * d + d)
        embed = (3 * 16 * 16 * d + d) + d + 197 * d + 8 * d
        assert sum(p.numel() for p in model.parameters()) == embed + 12 * block + 2 * d
    assert sum(p.numel() for p in base.parameters()) == pytest.approx(121.3e6, rel=1e-3)


def test_extract_features_accepts_published_clip_shape_in_chunks():
    torch.manual_seed(0)
    model = SimilarityRecognizer("base", batch_size=2, depth=1, embed_dim=64, num_heads=2).eval()
    x = torch.rand(3, 3, 8, 224, 224) * 2 - 1
    with torch.no_grad():
        chunked = model.extract_features(x)
        model.batch_size = 8
        whole = model.extract_features(x)
    assert chunked.shape == (3, 64)
    assert torch.allclose(chunked.norm(dim=1), torch.ones(3), atol=1e-5)
    assert torch.allclose(chunked, whole, atol=1e-5)
    with pytest.raises(ValueError):
        model.extract_features(torch.zeros(2, 8, 3, 224, 224))


def _attend(x, attn, heads):
    """Plain multi-head attention with explicit softmax, from an Attention module's weights."""
    b, n, c = x.shape
    q, k, v = F.linear(x, attn.qkv.weight, attn.qkv.bias).reshape(b, n, 3, heads, c // heads).unbind(2)
    w = torch.einsum("bqhd,bkhd->bhqk", q, k) * (c // heads) ** -0.5
    out = torch.einsum("bhqk,bkhd->bqhd", w.softmax(-1), v).reshape(b, n, c)
    return F.linear(out, attn.proj.weight, attn.proj.bias)


def reference_cls(vit, x, heads):
    """The published algorithm on its own token layout: one (B, 1 + N*T, D) sequence ordered (n, t)."""
    b, _, t, _, _ = x.shape
    p = vit.patch_embed.proj(x.transpose(1, 2).flatten(0, 1)).flatten(2).transpose(1, 2)  # (B*T, N, D)
    n, d = p.shape[1], p.shape[2]
    seq = torch.cat([vit.cls_token.expand(b * t, 1, d), p], 1) + vit.pos_embed
    cls = seq[:b, :1]
    tok = seq[:, 1:].reshape(b, t, n, d).transpose(1, 2) + vit.time_embed.unsqueeze(1)  # (B, N, T, D)
    x = torch.cat([cls, tok.reshape(b, n * t, d)], 1)
    for blk in vit.blocks:
        init_cls, tok = x[:, :1], x[:, 1:]
        xt = tok.reshape(b * n, t, d)
        res_t = blk.temporal_fc(_attend(blk.temporal_norm1(xt), blk.temporal_attn, heads))
        xt = (xt + res_t).reshape(b, n * t, d)
        xs = xt.reshape(b, n, t, d).transpose(1, 2).reshape(b * t, n, d)
        xs = torch.cat([init_cls.repeat(1, t, 1).reshape(b * t, 1, d), xs], 1)
        res_s = _attend(blk.norm1(xs), blk.attn, heads)
        cls_res = res_s[:, 0].reshape(b, t, d).mean(1, keepdim=True)
        res_s = res_s[:, 1:].reshape(b, t, n, d).transpose(1, 2).reshape(b, n * t, d)
        x = torch.cat([init_cls, xt], 1) + torch.cat([cls_res, res_s], 1)
        x = x + blk.mlp(blk.norm2(x))
    return vit.norm(x)[:, 0]


def test_matches_reference_divided_space_time_algorithm():
    model = randomise(tiny())
    x = clips(2) * 2 - 1
    with torch.no_grad():
        ours = model.backbone.extract_features(x)
        ref = reference_cls(model.backbone, x, heads=4)
    assert torch.allclose(ours, ref, atol=1e-4), (ours - ref).abs().max()


def test_frame_order_matters_only_through_time_embed():
    model = randomise(tiny())
    x = clips(2)
    perm = torch.tensor([2, 0, 3, 1])
    with torch.no_grad():
        out, permuted = model(x), model(x[:, :, perm])
        changed = x.clone()
        changed[:, :, 2] = torch.rand_like(changed[:, :, 2])
        assert (model(changed) - out).abs().max() > 1e-3  # every frame reaches the CLS feature
        assert (permuted - out).abs().max() > 1e-3
        # Without a time embedding the divided attention is frame-permutation invariant:
        # temporal attention is equivariant and the CLS averages over frames.
        model.backbone.time_embed.zero_()
        assert torch.allclose(model(x), model(x[:, :, perm]), atol=1e-5)


def test_temporal_attention_mixes_frames():
    model = randomise(tiny(depth=1))
    vit = model.backbone
    x = clips(1)
    changed = x.clone()
    changed[:, :, 1] = torch.rand_like(changed[:, :, 1])
    with torch.no_grad():
        _, tok = vit.forward_features(x)
        _, tok2 = vit.forward_features(changed)
        assert (tok[:, 0] - tok2[:, 0]).abs().max() > 1e-3  # frame 0's patches see frame 1
        vit.blocks[0].temporal_fc.weight.zero_()
        vit.blocks[0].temporal_fc.bias.zero_()
        _, tok = vit.forward_features(x)
        _, tok2 = vit.forward_features(changed)
        # In one block with temporal attention off, frames only share the input CLS token.
        assert torch.allclose(tok[:, 0], tok2[:, 0], atol=1e-6)
        assert torch.allclose(tok[:, 2:], tok2[:, 2:], atol=1e-6)


@pytest.mark.parametrize(
    "prefix, wrap, head",
    [
        ("module." + CSL3D_PREFIX, "state_dict", None),  # 3D-CSL layout, DataParallel-saved
        (CSL3D_PREFIX, None, None),  # plain state dict
        ("model.", "model_state", "model.head"),  # facebookresearch/TimeSformer layout
    ],
)
def test_load_published_layouts(tmp_path, prefix, wrap, head):
    src = randomise(tiny(seed=0))
    state = {prefix + k: v for k, v in src.backbone.state_dict().items()}
    if head:
        state[f"{head}.weight"] = torch.zeros(400, 64)
        state[f"{head}.bias"] = torch.zeros(400)
    else:
        state["head.weight"] = torch.zeros(1, 64)
    path = tmp_path / "ckpt.pth"
    torch.save({wrap: state, "meta": {"epoch": 3}} if wrap else state, path)
    dst = tiny(seed=5)
    x = clips(2)
    with torch.no_grad():
        assert not torch.allclose(dst(x), src(x), atol=1e-3)
        dst.load_pretrained_weights(str(path))
        assert torch.equal(dst(x), src(x))
    built = SimilarityRecognizer("base", **TINY)
    built.load_pretrained_weights(path)
    assert all(torch.equal(a, b) for a, b in zip(built.state_dict().values(), src.state_dict().values()))


def test_builder_loads_weights(tmp_path):
    src = csl3d_small(depth=1, embed_dim=48, img_size=32).eval()
    path = tmp_path / "small.pth"
    torch.save({"state_dict": src.state_dict()}, path)
    model = csl3d_small(str(path), depth=1, embed_dim=48, img_size=32).eval()
    with torch.no_grad():
        assert torch.equal(model(clips(1, t=8)), src(clips(1, t=8)))


def test_wrong_keys_and_missing_file(tmp_path):
    model = tiny()
    state = dict(model.state_dict())
    state.pop(f"{CSL3D_PREFIX}blocks.1.temporal_fc.weight")
    state[f"{CSL3D_PREFIX}blocks.7.attn.qkv.weight"] = torch.zeros(3)
    path = tmp_path / "bad.pth"
    torch.save({"state_dict": state}, path)
    with pytest.raises(ValueError, match="bad.pth") as err:
        model.load_pretrained_weights(path)
    assert "blocks.1.temporal_fc.weight" in str(err.value) and "blocks.7.attn.qkv.weight" in str(err.value)

    wrong_dim = SimilarityRecognizer("small", **{**TINY, "embed_dim": 32}).state_dict()
    torch.save(wrong_dim, tmp_path / "dim.pth")
    with pytest.raises(ValueError, match="dim.pth.*shape mismatch"):
        model.load_pretrained_weights(tmp_path / "dim.pth")

    torch.save([1, 2], tmp_path / "list.pth")
    with pytest.raises(ValueError, match="list.pth"):
        model.load_pretrained_weights(tmp_path / "list.pth")

    with pytest.raises(FileNotFoundError, match="nope.pth"):
        model.load_pretrained_weights(tmp_path / "nope.pth")


def test_checkpoint_embeddings_are_resized(tmp_path):
    src = randomise(tiny(num_frames=2))  # 2 frames, 2x2 grid
    path = tmp_path / "two.pth"
    torch.save({"state_dict": src.state_dict()}, path)
    dst = tiny(num_frames=4, img_size=64)  # 4 frames, 4x4 grid
    dst.load_pretrained_weights(path)
    te, pe = src.backbone.time_embed, src.backbone.pos_embed
    assert torch.equal(dst.backbone.time_embed, te.repeat_interleave(2, dim=1))
    grid = pe[0, 1:].reshape(2, 2, -1).repeat_interleave(2, 0).repeat_interleave(2, 1).reshape(16, -1)
    assert torch.equal(dst.backbone.pos_embed[0, 0], pe[0, 0])
    assert torch.equal(dst.backbone.pos_embed[0, 1:], grid)

    state = dict(src.state_dict())
    state[f"{CSL3D_PREFIX}pos_embed"] = torch.zeros(1, 1 + 6, 64)  # 6 positions: no square grid
    torch.save(state, tmp_path / "rect.pth")
    with pytest.raises(ValueError, match="rect.pth.*square"):
        dst.load_pretrained_weights(tmp_path / "rect.pth")


def test_unknown_variant_and_override():
    with pytest.raises(ValueError, match="model_type"):
        SimilarityRecognizer("large")
    with pytest.raises(TypeError, match="depthh"):
        SimilarityRecognizer("small", depthh=2)
