"""``params:preprocess``, with its defaults."""

from __future__ import annotations

from dataclasses import dataclass

from video_similarity.frames.archive import ArchiveSettings
from video_similarity.params import parse

LAUNCHERS = ("pool", "torchrun")


@dataclass(frozen=True)
class PreprocessParams:
    """``params:preprocess``."""

    fps: float = 1.0  # frames per second; frame k covers [k/fps, (k+1)/fps) as in VSC
    short_side: int | None = 288  # resize so that the shorter side has this many pixels (None: keep); SSCD's evaluation size
    jpeg_quality: int = 90
    max_long_side: int | None = 1024  # a degenerate aspect ratio (3000 x 20) is capped here and noted in the report
    workers: int | None = None  # decoding processes (per rank under torchrun); None: all cores (shared by a host's ranks)
    only_missing: bool = True  # skip videos whose archive exists with these settings
    launcher: str = "pool"  # pool: a process pool on this host; torchrun: every rank of params:launch decodes a share

    def __post_init__(self) -> None:
        if self.launcher not in LAUNCHERS:
            raise ValueError(f"launcher must be one of {', '.join(LAUNCHERS)}, got {self.launcher!r}")

    @classmethod
    def from_params(cls, params: dict | None) -> "PreprocessParams":
        return parse(cls, params, "preprocess")

    def archive_settings(self) -> ArchiveSettings:
        return ArchiveSettings(fps=self.fps, short_side=self.short_side, jpeg_quality=self.jpeg_quality, max_long_side=self.max_long_side)
