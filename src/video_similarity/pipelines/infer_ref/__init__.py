"""infer_ref: per-second reference descriptors, the score-normalisation noise bank, a faiss index."""

from video_similarity.pipelines.infer_ref.pipeline import create_pipeline

__all__ = ["create_pipeline"]
