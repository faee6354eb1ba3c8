"""Preprocess: every indexed video -> a frame archive at a fixed sampling rate."""

from video_similarity.pipelines.preprocess.pipeline import create_pipeline

__all__ = ["create_pipeline"]
