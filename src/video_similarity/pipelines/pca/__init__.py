"""pca: per-model L2, concatenate the ensemble, PCA (<= 512 dims) fitted on training-reference frames."""

from video_similarity.pipelines.pca.pipeline import create_pipeline

__all__ = ["create_pipeline"]
