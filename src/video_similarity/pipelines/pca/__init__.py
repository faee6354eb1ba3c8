"""pca: per-model L2, concatenate the ensemble, PCA (<= 512 dims) fitted on training-reference frames."""

__all__ = ["create_pipeline"]


def __getattr__(name: str):
    """``create_pipeline`` imported on first use: importing this package's params does not import its nodes."""
    if name == "create_pipeline":
        from video_similarity.pipelines.pca.pipeline import create_pipeline

        return create_pipeline
    raise AttributeError(name)
