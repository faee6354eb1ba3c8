"""``params:video_score`` with its defaults (the threshold is a descriptor setting: the tune stage chooses it)."""

from __future__ import annotations

from dataclasses import dataclass

from video_similarity.params import parse


@dataclass(frozen=True)
class VideoScoreParams:
    enabled: bool = True  # false: the model is not used (nothing suppressed, no threshold tuned)
    batch_size: int = 64

    @classmethod
    def from_params(cls, params: dict | None) -> "VideoScoreParams":
        return parse(cls, params, "video_score")
