"""evaluate: submission validation, uAP as the official evaluator, PR curve, per-edit breakdown, baselines."""

from video_similarity.pipelines.evaluate.pipeline import create_pipeline

__all__ = ["create_pipeline"]
