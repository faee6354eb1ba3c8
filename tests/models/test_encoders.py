"""The encoder zoo registry: parameter parsing and the contract every builder keeps."""

from __future__ import annotations

import pytest
import torch

from video_similarity.models.encoders import BUILDERS, EncoderConfig, build_encoder, parse_encoders

pytestmark = pytest.mark.usefixtures("one_thread")

SMALL = {
    "resnet50_avgpool": {"input_size": 64},
    "resnet50_rmac": {"input_size": 128},
    "resnet50_imac": {"input_size": 64},
    "x3d_s": {"input_size": 64, "clip_frames": 4},
    "x3d_m": {"input_size": 64, "clip_frames": 4},
    "x3d_l": {"input_size": 64, "clip_frames": 4},
    "slow_r50": {"input_size": 64, "clip_frames": 4},
    "csl3d_base": {"img_size": 32, "depth": 1, "embed_dim": 32, "num_heads": 2, "num_frames": 4},
    "csl3d_small": {"img_size": 32, "depth": 1, "num_frames": 4},
}


def test_parse_encoders_reads_entries_and_drops_nulls():
    configs = parse_encoders({
        "resnet50_avgpool": {},
        "whitened": {"builder": "resnet50_rmac", "whitening": {"dims": 8}, "options": {"input_size": 128}, "seed": 3},
        "x3d_m": None,
        "pdq": {},
    })
    assert [c.name for c in configs] == ["resnet50_avgpool", "whitened", "pdq"]
    assert configs[1] == EncoderConfig("whitened", "resnet50_rmac", None, 3, {"dims": 8}, {"input_size": 128})


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"builder": "vgg16"}, "unknown builder"),
        ({"builder": "x3d_s", "size": 3}, "unknown key"),
        ({"builder": "x3d_s", "whitening": {"dims": 8}}, "whitening applies to"),
    ],
)
def test_bad_entries_are_rejected_with_the_encoder_named(entry, message):
    with pytest.raises(ValueError, match=message) as error:
        EncoderConfig.from_params("mine", entry)
    assert "'mine'" in str(error.value)


@pytest.mark.parametrize("builder", sorted(BUILDERS))
def test_every_builder_keeps_the_encoder_contract(builder):
    model = build_encoder(builder, seed=0, **SMALL[builder])
    assert model.kind in ("frames", "clips") and not model.training
    size = model.input_size
    shape = (2, 3, size, size) if model.kind == "frames" else (2, 3, model.clip_frames, size, size)
    if model.kind == "clips":
        assert model.frame_stride >= 1
    with torch.no_grad():
        out = model(torch.rand(*shape))
    assert out.shape == (2, model.dim)
    torch.testing.assert_close(out.norm(dim=1), torch.ones(2), atol=1e-4, rtol=0)


def test_seed_decides_the_random_init():
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        a = build_encoder("resnet50_avgpool", seed=1, input_size=64)(x)
        b = build_encoder("resnet50_avgpool", seed=1, input_size=64)(x)
        c = build_encoder("resnet50_avgpool", seed=2, input_size=64)(x)
    torch.testing.assert_close(a, b)
    assert not torch.allclose(a, c)


def test_unknown_builder_cannot_be_built():
    with pytest.raises(ValueError, match="unknown encoder builder"):
        build_encoder("pdq")
