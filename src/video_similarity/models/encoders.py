"""The retrieval encoder zoo by name: one builder per model, weights from local files only.

``build_encoder(config)`` turns one entry of ``params:retrieval.encoders`` into
a model that follows the encoder contract (``kind`` frames/clips, ``input_size``,
``clip_frames``/``frame_stride`` for clips, ``forward`` on [0, 1] input -> L2 rows).
Builders import lazily, so listing the zoo never imports PyTorchVideo.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import import_module

#: builder name -> "module:function"
BUILDERS = {
    "resnet50_avgpool": "video_similarity.models.frame_encoders:resnet50_avgpool",
    "resnet50_rmac": "video_similarity.models.frame_encoders:resnet50_rmac",
    "resnet50_imac": "video_similarity.models.frame_encoders:resnet50_imac",
    "x3d_s": "video_similarity.models.clip_encoders:x3d_s",
    "x3d_m": "video_similarity.models.clip_encoders:x3d_m",
    "x3d_l": "video_similarity.models.clip_encoders:x3d_l",
    "slow_r50": "video_similarity.models.clip_encoders:slow_r50",
    "csl3d_base": "video_similarity.models.timesformer:csl3d_base",
    "csl3d_small": "video_similarity.models.timesformer:csl3d_small",
}
#: Encoders that are not neural networks; the encode worker computes them itself.
CLASSICAL = ("pdq",)
#: Builders whose regional features can be PCA-whitened (``whitening:`` in their entry).
WHITENABLE = ("resnet50_rmac", "resnet50_imac")


@dataclass(frozen=True)
class EncoderConfig:
    """One entry of ``retrieval.encoders``: ``name: {builder, weights, seed, whitening, options}``."""

    name: str
    builder: str
    weights: str | None = None  # a name in the catalog entry pretrained_weights
    seed: int = 0  # random init when there are no weights
    whitening: dict | None = None  # {dims, max_frames}: PCA whitening fitted on database frames
    options: dict = field(default_factory=dict)  # builder keyword arguments (input_size, depth, ...)

    @classmethod
    def from_params(cls, name: str, entry: dict) -> "EncoderConfig":
        entry = dict(entry or {})
        builder = entry.pop("builder", name)
        if builder not in BUILDERS and builder not in CLASSICAL:
            raise ValueError(f"encoder {name!r}: unknown builder {builder!r}; known: {sorted(BUILDERS) + list(CLASSICAL)}")
        known = {"weights", "seed", "whitening", "options"}
        unknown = sorted(set(entry) - known)
        if unknown:
            raise ValueError(f"encoder {name!r}: unknown key(s) {unknown}; known: builder, {', '.join(sorted(known))}")
        if entry.get("whitening") and builder not in WHITENABLE:
            raise ValueError(f"encoder {name!r}: whitening applies to {WHITENABLE}, not {builder!r}")
        return cls(name, builder, entry.get("weights"), int(entry.get("seed", 0)), entry.get("whitening"), dict(entry.get("options") or {}))


def parse_encoders(params: dict) -> list[EncoderConfig]:
    """Every configured encoder; an entry set to null (or false) is left out, so an environment can drop one."""
    return [EncoderConfig.from_params(name, entry) for name, entry in (params or {}).items() if entry is not None and entry is not False]


def build_encoder(builder: str, weights_path: str | None = None, seed: int = 0, whitening_path: str | None = None, **options):
    """Instantiate a builder (random init seeded by ``seed`` unless ``weights_path`` is given), in eval mode."""
    import torch

    if builder not in BUILDERS:
        raise ValueError(f"unknown encoder builder {builder!r}; known: {sorted(BUILDERS)}")
    module_name, function = BUILDERS[builder].split(":")
    torch.manual_seed(seed)
    if whitening_path:
        from video_similarity.models.frame_encoders import PCAWhitening

        options["whitening"] = PCAWhitening.load(whitening_path)
    model = getattr(import_module(module_name), function)(weights_path=weights_path, **options)
    return model.eval()
