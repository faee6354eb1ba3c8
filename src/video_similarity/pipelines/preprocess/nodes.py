"""Preprocess node: decode videos into the frame archive store."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from video_similarity.datasets.frame_archives import FrameArchiveStore
from video_similarity.frames.archive import ArchiveSettings
from video_similarity.frames.preprocess import preprocess_videos
from video_similarity.params import parse


@dataclass(frozen=True)
class PreprocessParams:
    """``params:preprocess``."""

    fps: float = 1.0  # frames per second; frame k covers [k/fps, (k+1)/fps) as in VSC
    short_side: int | None = 288  # resize so that the shorter side has this many pixels (None: keep); SSCD's evaluation size
    jpeg_quality: int = 90
    max_long_side: int | None = 1024  # a degenerate aspect ratio (3000 x 20) is capped here and noted in the report
    workers: int | None = None  # decoding processes; None: all cores
    only_missing: bool = True  # skip videos whose archive exists with these settings

    @classmethod
    def from_params(cls, params: dict | None) -> "PreprocessParams":
        return parse(cls, params, "preprocess")

    def archive_settings(self) -> ArchiveSettings:
        return ArchiveSettings(fps=self.fps, short_side=self.short_side, jpeg_quality=self.jpeg_quality, max_long_side=self.max_long_side)


def decode_to_archives(
    video_index: pd.DataFrame, store: FrameArchiveStore, preprocess: dict
) -> tuple[pd.DataFrame, dict]:
    """Archive every video at ``preprocess.fps``; returns the manifest and the run's report."""
    config = PreprocessParams.from_params(preprocess)
    return preprocess_videos(video_index, store.root, config.archive_settings(), workers=config.workers, only_missing=config.only_missing)
