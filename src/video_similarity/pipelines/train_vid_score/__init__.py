"""train_vid_score: the rank-1's video editing detection, P(a query holds copied content), trained under torchrun."""

from video_similarity.pipelines.train_vid_score.pipeline import create_pipeline

__all__ = ["create_pipeline"]
