"""Preprocess node: decode videos into the frame archive store."""

from __future__ import annotations

import pandas as pd

from video_similarity.datasets.frame_archives import FrameArchiveStore
from video_similarity.frames.preprocess import preprocess_videos
from video_similarity.pipelines.preprocess.params import PreprocessParams


def decode_to_archives(
    video_index: pd.DataFrame, store: FrameArchiveStore, preprocess: dict, launch: dict | None = None
) -> tuple[pd.DataFrame, dict]:
    """Archive every video at ``preprocess.fps``; returns the manifest and the run's report.

    ``preprocess.launcher: torchrun`` shares the videos out among the ranks of
    ``params:launch``; every host's run returns the same manifest and report.
    """
    config = PreprocessParams.from_params(preprocess)
    if config.launcher == "torchrun":
        from video_similarity.frames.preprocess_job import preprocess_with_torchrun

        return preprocess_with_torchrun(video_index, store.root, config.archive_settings(), config.workers, config.only_missing, launch)
    return preprocess_videos(video_index, store.root, config.archive_settings(), workers=config.workers, only_missing=config.only_missing)
