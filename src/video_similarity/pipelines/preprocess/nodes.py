"""Preprocess node: decode videos into the frame archive store."""

from __future__ import annotations

import pandas as pd

from video_similarity.datasets.frame_archives import FrameArchiveStore
from video_similarity.frames.archive import ArchiveSettings
from video_similarity.frames.preprocess import preprocess_videos


def decode_to_archives(
    video_index: pd.DataFrame, store: FrameArchiveStore, preprocess: dict
) -> tuple[pd.DataFrame, dict]:
    """Archive every video at ``preprocess.fps``; returns the manifest and the run's report."""
    settings = ArchiveSettings(
        fps=float(preprocess.get("fps", 1.0)),
        short_side=preprocess.get("short_side"),
        jpeg_quality=int(preprocess.get("jpeg_quality", 90)),
    )
    return preprocess_videos(
        video_index,
        store.root,
        settings,
        workers=preprocess.get("workers"),
        only_missing=bool(preprocess.get("only_missing", True)),
    )
