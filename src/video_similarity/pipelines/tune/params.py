"""``params:tuning`` with its defaults, in one place."""

from __future__ import annotations

from dataclasses import dataclass, field

from video_similarity.params import parse
from video_similarity.vsc.settings import PcaSettings
from video_similarity.vsc.tuning import SearchSpace

MODES = ("auto", "fixed")


@dataclass(frozen=True)
class RecipeParams:
    """Settings given by hand: ``tuning.fallback`` (no ground truth to tune on) and ``tuning.fixed`` (mode fixed)."""

    weights: dict[str, float] | None = None  # member -> weight; null: the first frozen member alone (fallback), every member at 1 (fixed)
    projection: PcaSettings | None = None  # {dim, whitening_power}; null: none
    dedup_threshold: float | None = None  # null: rows are dropped only where the descriptor budget requires it
    beta: float = 1.2  # score normalisation (the official baseline's and the rank-1's)
    video_score_threshold: float | None = None  # null: nothing suppressed


def _search() -> SearchSpace:
    return SearchSpace(
        weights=(0.5, 1.0),
        projections=(PcaSettings(64, 0.25), PcaSettings(128, 0.25), PcaSettings(128, 0.5), PcaSettings(256, 0.5)),
        dedup_thresholds=(0.99, 0.975),
        betas=(1.2, 1.0, 0.8, 1.5),
        video_score_thresholds=(0.001, 0.01, 0.1),
    )


def _fixed() -> RecipeParams:
    return RecipeParams(projection=PcaSettings(128, 0.25), dedup_threshold=0.975, video_score_threshold=0.001)


@dataclass(frozen=True)
class TuningParams:
    """``params:tuning`` (docs/vsc_descriptor.md, "Choosing the settings")."""

    mode: str = "auto"  # auto: tune on the split's ground truth (fallback without it); fixed: `fixed` as given, nothing held out
    split: str = "train"  # the split tuned on: never the evaluated one (inference.split)
    folds: int = 3  # folds of references, each with the queries that copy them
    holdout: bool = True  # fold 0 is kept from the trained members and the video-score model, which are judged on it alone
    seed: int = 0
    bootstrap: int = 200  # paired bootstrap draws of the queries ...
    margin: float = 2.0  # ... a more complex option is chosen only when it beats the simpler by this many standard deviations
    max_queries: int | None = 2000  # queries of a large split sampled for tuning (null: all)
    max_references: int | None = 10000  # references kept besides every copied one (null: all)
    search: SearchSpace = field(default_factory=_search)
    fallback: RecipeParams = field(default_factory=RecipeParams)
    fixed: RecipeParams = field(default_factory=_fixed)

    @classmethod
    def from_params(cls, params: dict | None) -> "TuningParams":
        config = parse(cls, params, "tuning")
        if config.mode not in MODES:
            raise ValueError(f"tuning.mode is {config.mode!r}; known: {', '.join(MODES)}")
        if config.folds < 2:
            raise ValueError(f"tuning.folds is {config.folds}: cross-validation needs at least 2")
        if config.bootstrap < 2:
            raise ValueError(f"tuning.bootstrap is {config.bootstrap}: the noise estimate needs at least 2 draws")
        return config
