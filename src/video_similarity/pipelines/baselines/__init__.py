"""baselines: the PDQ and untrained-backbone baselines, each the descriptor stages (pca, infer_ref, infer_query) under its namespace."""

from video_similarity.pipelines.baselines.pipeline import create_pipeline

__all__ = ["create_pipeline"]
