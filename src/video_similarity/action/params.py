"""The action track's domain parameters, with their defaults in one place."""

from __future__ import annotations

from dataclasses import dataclass

from video_similarity.params import parse


@dataclass(frozen=True)
class ProbeParams:
    """``severe.probe``: SEVERE's linear evaluation by default."""

    solver: str = "sgd"  # sgd: SEVERE's schedule | lbfgs: fitted to convergence
    lr: float = 0.01
    batch_size: int = 128
    epochs: int = 10
    momentum: float = 0.9
    weight_decay: float = 0.0
    c: float = 1.0  # lbfgs: inverse L2 strength
    seed: int = 0

    def __post_init__(self) -> None:
        if self.solver not in ("sgd", "lbfgs"):
            raise ValueError(f"solver must be sgd or lbfgs, got {self.solver!r}")

    @classmethod
    def from_params(cls, params: dict | None) -> "ProbeParams":
        return parse(cls, params, "severe.probe")


@dataclass(frozen=True)
class Setting:
    """One downstream setting: a dataset, optionally a class subset (granularity) and a training sample size."""

    name: str
    dataset: str
    classes: tuple[str, ...] | None = None
    sample_size: int | None = None  # training videos, class-balanced (ceil(N / C) per class); None: all
