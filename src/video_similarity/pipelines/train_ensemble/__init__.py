"""train_ensemble: K descriptor models (backbones, sizes, seeds) trained under torchrun."""

from video_similarity.pipelines.train_ensemble.pipeline import create_pipeline

__all__ = ["create_pipeline"]
