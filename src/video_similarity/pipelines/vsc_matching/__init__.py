"""vsc_matching: candidates as the official baseline, TN and the alignment network, segment AP, the matching report."""

from video_similarity.pipelines.vsc_matching.pipeline import create_pipeline

__all__ = ["create_pipeline"]
