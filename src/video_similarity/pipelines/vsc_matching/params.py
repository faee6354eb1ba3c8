"""``params:vsc_matching``, with its defaults (the localisers' sections are ``vsc/localization/params.py``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from video_similarity.params import parse
from video_similarity.vsc.localization.params import AlignmentTrainingParams, NetworkParams, TnParams


@dataclass(frozen=True)
class MatchingParams:
    """``params:vsc_matching``: candidates as the official baseline, the localisers, the report."""

    fps: float = 1.0  # frames per second of this track's descriptors (the descriptor track stays at preprocess.fps); 2: the 2nd / 3rd places
    retrieval_per_query: float = 1200.0  # K = this x query videos kept by the global search
    candidates_per_query: float = 25.0  # M = this x query videos: the candidate pairs
    localize_per_query: float = 5.0  # the best this x query videos of them are localised
    tn: TnParams = field(default_factory=TnParams)
    network: NetworkParams = field(default_factory=NetworkParams)
    training: AlignmentTrainingParams = field(default_factory=AlignmentTrainingParams)
    figure_pairs: int = 4  # pairs drawn per localiser in the report's figures

    @classmethod
    def from_params(cls, params: dict | None) -> "MatchingParams":
        return parse(cls, params, "vsc_matching")

    def __post_init__(self) -> None:
        if self.fps <= 0:
            raise ValueError(f"fps must be positive, got {self.fps}")
        if not 0 < self.localize_per_query <= self.candidates_per_query <= self.retrieval_per_query:
            raise ValueError("need 0 < localize_per_query <= candidates_per_query <= retrieval_per_query")
