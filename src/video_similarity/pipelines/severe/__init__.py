"""severe: SEVERE-style downstream evaluation of registry video encoders (domain, granularity, sample size)."""

from video_similarity.pipelines.severe.pipeline import create_pipeline

__all__ = ["create_pipeline"]
