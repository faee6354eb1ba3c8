"""infer_query: per-second query descriptors, near-duplicate dropping, PCA, score normalisation."""

__all__ = ["create_pipeline"]


def __getattr__(name: str):
    """``create_pipeline`` imported on first use: importing this package's params does not import its nodes."""
    if name == "create_pipeline":
        from video_similarity.pipelines.infer_query.pipeline import create_pipeline

        return create_pipeline
    raise AttributeError(name)
