"""tune: the descriptor settings (members' weights, projection, de-duplication, beta, video-score threshold)
chosen on the training split's ground truth, or the documented fallback without it."""

from video_similarity.pipelines.tune.pipeline import create_pipeline

__all__ = ["create_pipeline"]
