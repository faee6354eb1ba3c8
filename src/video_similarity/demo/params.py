"""The demos' parameters (``ingest.demo``, ``retrieval.demo``, ``action_data.demo``), with their defaults in one place."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field

from video_similarity.params import parse


def _fingerprint(config, rendering_format: int) -> str:
    """What a written demo is made from: its config and the renderer's format (a change to either renders it again)."""
    blob = json.dumps({"format": rendering_format, **asdict(config)}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class SplitSize:
    references: int
    queries: int


@dataclass(frozen=True)
class DemoCorpusConfig:
    """Sizes and mixes of the demo corpus (``ingest.demo`` in parameters_ingest.yml)."""

    seed: int = 0
    splits: dict[str, SplitSize] = field(
        default_factory=lambda: {"train": SplitSize(12, 48), "test": SplitSize(16, 100)}
    )
    reference_duration: tuple[float, float] = (8.0, 18.0)
    copy_duration: tuple[float, float] = (2.0, 8.0)
    filler_duration: tuple[float, float] = (1.0, 4.0)
    no_copy_query_duration: tuple[float, float] = (4.0, 12.0)
    no_copy_fraction: float = 0.4
    embedded_fraction: float = 0.5
    # the matching track: copy queries with a second copied segment; embedded copies inside longer unrelated footage
    two_copy_fraction: float = 0.25
    long_filler_fraction: float = 0.3
    long_filler_duration: tuple[float, float] = (6.0, 15.0)
    photo_fraction: float = 0.5
    unedited_fraction: float = 0.15
    mild_fraction: float = 0.25
    max_edits: int = 3
    sizes: tuple[tuple[int, int], ...] = ((320, 240), (256, 192), (240, 320), (352, 288), (320, 180), (288, 288))
    frame_rates: tuple[float, ...] = (15.0, 24.0, 25.0, 29.97, 30.0)
    # shots over photographs: a still camera, a slow pan, or a camera move (the rest); people walking in some
    static_fraction: float = 0.35
    slow_fraction: float = 0.35
    walker_fraction: float = 0.5
    max_shots: int = 3  # shots (cuts) of a reference over its photograph
    # encoding at a bit rate, in bits per pixel of each frame (0.1 at 320 x 240 and 25 fps is 192 kbit/s)
    reference_bpp: tuple[float, float] = (0.08, 0.3)
    query_bpp: tuple[float, float] = (0.06, 0.25)
    reencode_bpp: tuple[float, float] = (0.01, 0.04)  # the "reencode" edit

    @classmethod
    def from_params(cls, params: dict | None) -> "DemoCorpusConfig":
        return parse(cls, params, "ingest.demo")

    def __post_init__(self) -> None:
        if not self.splits:
            raise ValueError("the demo corpus needs at least one split")
        if not 0 <= self.no_copy_fraction <= 1:
            raise ValueError(f"no_copy_fraction must be in [0, 1], got {self.no_copy_fraction}")
        if not (0 <= self.static_fraction and 0 <= self.slow_fraction and self.static_fraction + self.slow_fraction <= 1):
            raise ValueError(f"static_fraction + slow_fraction must lie in [0, 1], got {self.static_fraction} + {self.slow_fraction}")

    def fingerprint(self) -> str:
        from video_similarity.demo.corpus import CORPUS_FORMAT

        return _fingerprint(self, CORPUS_FORMAT)


@dataclass(frozen=True)
class FivrDemoConfig:
    """``retrieval.demo`` in parameters_retrieval.yml."""

    seed: int = 0
    query_sets: dict[str, int] = field(default_factory=lambda: {"eval": 6, "train": 6})
    per_set: dict[str, int] = field(default_factory=lambda: {"ND": 2, "DS": 2, "CS": 1, "IS": 1})  # related videos per query
    distractors: dict[str, int] = field(default_factory=lambda: {"eval": 8, "train": 4})
    query_duration: tuple[float, float] = (6.0, 10.0)
    copy_duration: tuple[float, float] = (3.0, 6.0)
    filler_duration: tuple[float, float] = (2.0, 4.0)
    distractor_duration: tuple[float, float] = (5.0, 10.0)
    sizes: tuple[tuple[int, int], ...] = ((320, 240), (256, 192), (352, 288), (320, 180), (288, 288))
    frame_rates: tuple[float, ...] = (15.0, 24.0, 25.0, 30.0)
    max_edits: int = 2
    quality: int = 4

    @classmethod
    def from_params(cls, params: dict | None) -> "FivrDemoConfig":
        return parse(cls, params, "retrieval.demo")

    def __post_init__(self) -> None:
        from video_similarity.demo.fivr import LABELS
        from video_similarity.demo.scenes import PHOTO_NAMES

        if set(self.per_set) - set(LABELS):
            raise ValueError(f"per_set labels must be among {LABELS}, got {sorted(self.per_set)}")
        if "eval" not in self.query_sets:
            raise ValueError("query_sets needs an 'eval' entry")
        if sum(self.query_sets.values()) > len(PHOTO_NAMES) - 2:
            raise ValueError(f"at most {len(PHOTO_NAMES) - 2} query sets in all (one photograph each, two kept for distractors)")

    def fingerprint(self) -> str:
        from video_similarity.demo.fivr import FORMAT

        return _fingerprint(self, FORMAT)


def _motion_names() -> tuple[str, ...]:
    from video_similarity.demo.actions import MOTIONS

    return tuple(MOTIONS)


@dataclass(frozen=True)
class ActionDemoParams:
    """``action_data.demo``: how many classes, groups and clips, and how they are rendered."""

    classes: tuple[str, ...] = field(default_factory=_motion_names)  # every motion class
    groups: int = 20
    clips_per_group: int = 2
    frames: int = 90  # per clip; the notes' sampling reads 8 of the first 80
    fps: float = 30.0
    size: int = 64  # rendered frame side (the clips are resized to the sampling's size)
    speeds: tuple[float, ...] = (0.7, 1.0, 1.4)  # relative speed of a clip, drawn per clip
    distractors: int = 2  # static shapes of the background
    radius: float = 0.24  # the object's typical radius, a fraction of the frame side (sizes vary by SIZE_RANGE around it)
    pan: float = 0.0  # how far the camera pans over a photograph background during a clip (fraction of its free width)
    seed: int = 0

    def __post_init__(self) -> None:
        from video_similarity.demo.actions import MOTIONS

        unknown = sorted(set(self.classes) - set(MOTIONS))
        if unknown:
            raise ValueError(f"classes: unknown class(es) {unknown}; known: {', '.join(MOTIONS)}")
        if self.groups < 2 or self.clips_per_group < 1 or self.frames < 1 or self.size < 16:
            raise ValueError("needs groups >= 2, clips_per_group >= 1, frames >= 1 and size >= 16")

    @classmethod
    def from_params(cls, params: dict | None) -> "ActionDemoParams":
        return parse(cls, params, "action_data.demo")
