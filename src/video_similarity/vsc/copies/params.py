"""``params:find_copies``, with its defaults: how a user's video is searched in the copy index."""

from __future__ import annotations

from dataclasses import dataclass

from video_similarity.params import parse


@dataclass(frozen=True)
class FindCopiesParams:
    """The command's search (the official baseline's candidates, per input video) and localiser."""

    localizer: str = "network"  # a name of vsc/localization/registry.py: LOCALIZERS (tn needs no vsc_matching training)
    retrieval_per_query: int = 1200  # the best row similarities kept per input video (the baseline's K per query)
    candidates_per_query: int = 25  # the references with the best of them: the candidate pairs
    localize_per_query: int = 5  # the best candidates localised
    threshold: float | None = None  # a match's least score; null: the index's, chosen on the training split (docs/find_copies.md)
    fallback_threshold: float = 0.0  # the index's threshold when the training split cannot choose one (no copy found there)
    min_duration: float = 1.0  # seconds: a shorter input is refused (it holds no one-second descriptor)

    def __post_init__(self) -> None:
        if not 0 < self.localize_per_query <= self.candidates_per_query <= self.retrieval_per_query:
            raise ValueError("need 0 < localize_per_query <= candidates_per_query <= retrieval_per_query")

    @classmethod
    def from_params(cls, params: dict | None) -> FindCopiesParams:
        return parse(cls, params, "find_copies")
