"""FIVR / CC_WEB_VIDEO retrieval: encoder zoo, frame- and video-level similarity, exact mAP."""

from video_similarity.pipelines.retrieval.pipeline import create_pipeline

__all__ = ["create_pipeline"]
