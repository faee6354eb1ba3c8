"""Ingest: a dataset in the VSC layout (or the built demo corpus) -> validated tables."""

from video_similarity.pipelines.ingest.pipeline import create_pipeline

__all__ = ["create_pipeline"]
