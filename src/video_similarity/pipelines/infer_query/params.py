"""``params:scene_detection`` and ``params:video_score`` with their defaults (the threshold is a descriptor setting: the tune
stage chooses it)."""

from __future__ import annotations

from dataclasses import dataclass, fields

from video_similarity.frames.params import LayoutThresholds
from video_similarity.params import parse


@dataclass(frozen=True)
class SceneDetectionParams(LayoutThresholds):
    """``params:scene_detection``: the pipeline's switches besides the layout detection's thresholds (one flat section)."""

    enabled: bool = True
    """Extra part descriptors or not."""
    parts_replace_frames: bool = True
    """A query with parts keeps its number of descriptors, its parts' first (false: parts are added to the query's
    frames, within the global descriptor budget)."""

    @classmethod
    def from_params(cls, params: dict | None) -> "SceneDetectionParams":
        return parse(cls, params, "scene_detection")

    def thresholds(self) -> LayoutThresholds:
        """What the detection reads (and what the layouts' cache is stamped with)."""
        return LayoutThresholds(**{f.name: getattr(self, f.name) for f in fields(LayoutThresholds)})


@dataclass(frozen=True)
class VideoScoreParams:
    enabled: bool = True  # false: the model is not used (nothing suppressed, no threshold tuned)
    batch_size: int = 64

    @classmethod
    def from_params(cls, params: dict | None) -> "VideoScoreParams":
        return parse(cls, params, "video_score")
