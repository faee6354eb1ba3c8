"""The descriptor settings: what turns the members' frame embeddings into the submitted descriptors.

One value, chosen once per run by the ``tune`` stage (on the training split's
ground truth, or the documented fallback without it, or as given) and read by
every later stage: which members and at what weight, the projection, the
de-duplication, score normalisation's beta and the video-score threshold.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass

from video_similarity.params import parse

#: Where a run's settings came from.
SOURCES = ("tuned", "fallback", "fixed", "baseline")


@dataclass(frozen=True)
class PcaSettings:
    """PCA to ``dim`` components (fewer where the fitting frames cannot estimate that many), each scaled by
    its variance to the power ``-whitening_power`` (0: plain PCA, 0.5: full whitening)."""

    dim: int
    whitening_power: float

    def __post_init__(self) -> None:
        if not 0 <= self.whitening_power <= 0.5:
            raise ValueError(f"whitening_power is {self.whitening_power}: it must lie in [0, 0.5] (0 none, 0.5 full whitening)")
        if self.dim < 1:
            raise ValueError(f"a PCA needs at least one dimension, got {self.dim}")

    def label(self) -> str:
        return f"PCA {self.dim} (power {self.whitening_power:g})"


@dataclass(frozen=True)
class DescriptorSettings:
    """The settings of one descriptor recipe (see the module docstring); JSON-able through :meth:`to_dict`."""

    weights: dict[str, float]  # member -> weight of its L2-normalised block; a member absent or at 0 is left out
    projection: PcaSettings | None  # None: the weighted concatenation as it is (then L2)
    dedup_threshold: float | None  # None: query rows are dropped only where the descriptor budget requires it
    beta: float  # score normalisation: bias = -beta x the best noise-bank similarity
    video_score_threshold: float | None  # queries scored below it keep one tiny row (bias -100); None: nothing suppressed
    source: str  # tuned | fallback | fixed | baseline
    note: str  # why these settings (shown in the reports)

    def __post_init__(self) -> None:
        active = self.members()
        if not active:
            raise ValueError(f"descriptor settings with no member of positive weight: {self.weights}")
        bad = [n for n, w in self.weights.items() if not (math.isfinite(w) and w >= 0)]
        if bad:
            raise ValueError(f"member weights must be finite and >= 0: {bad}")
        if self.source not in SOURCES:
            raise ValueError(f"unknown settings source {self.source!r}; known: {', '.join(SOURCES)}")
        if self.dedup_threshold is not None and not -1 <= self.dedup_threshold <= 1:
            raise ValueError(f"dedup_threshold is a cosine similarity in [-1, 1], got {self.dedup_threshold}")

    def __hash__(self) -> int:  # weights is a dict: hash the JSON form
        return hash(json.dumps(self.to_dict(), sort_keys=True))

    def members(self) -> dict[str, float]:
        """The members used (positive weight), in name order."""
        return {n: float(w) for n, w in sorted(self.weights.items()) if w > 0}

    def replace(self, **changes) -> "DescriptorSettings":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        out = dataclasses.asdict(self)
        out["weights"] = self.members()
        return out

    @classmethod
    def from_dict(cls, data: dict) -> "DescriptorSettings":
        return parse(cls, data, "descriptor_settings")

    def members_label(self) -> str:
        """``sscd + 0.5 x trained``."""
        return " + ".join(n if w == 1 else f"{w:g} x {n}" for n, w in self.members().items())

    def summary(self) -> str:
        """One line for logs and reports."""
        parts = [self.members_label(), self.projection.label() if self.projection else "no projection",
                 f"de-duplication at {self.dedup_threshold:g}" if self.dedup_threshold is not None else "no de-duplication (budget only)",
                 f"beta {self.beta:g}",
                 f"video score below {self.video_score_threshold:g} suppressed" if self.video_score_threshold is not None else "no suppression"]
        return ", ".join(parts)
