"""infer_query: per-second query descriptors, near-duplicate dropping, PCA, score normalisation."""

from video_similarity.pipelines.infer_query.pipeline import create_pipeline

__all__ = ["create_pipeline"]
