"""infer_ref: per-second reference descriptors, the score-normalisation noise bank, a faiss index."""

__all__ = ["create_pipeline"]


def __getattr__(name: str):
    """``create_pipeline`` imported on first use: importing this package's params does not import its nodes."""
    if name == "create_pipeline":
        from video_similarity.pipelines.infer_ref.pipeline import create_pipeline

        return create_pipeline
    raise AttributeError(name)
