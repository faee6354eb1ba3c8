"""``params:baselines.<name>`` with its defaults."""

from __future__ import annotations

from dataclasses import dataclass

from video_similarity.params import parse
from video_similarity.vsc.settings import PcaSettings


@dataclass(frozen=True)
class BaselineParams:
    """A baseline: one registry encoder that nothing trains, through the ensemble's stages with fixed settings."""

    encoder: dict  # a registry entry: {builder, weights, seed, options}
    projection: PcaSettings | None = None  # {dim, whitening_power}; null: none (the official baseline's way)
    beta: float = 1.2  # score normalisation, as the official baseline

    @classmethod
    def from_params(cls, name: str, params: dict | None) -> "BaselineParams":
        return parse(cls, params, f"baselines.{name}")
