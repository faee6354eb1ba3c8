"""baselines: the PDQ and untrained-backbone baselines, each the descriptor stages (pca, infer_ref, infer_query) under its namespace."""

__all__ = ["create_pipeline"]


def __getattr__(name: str):
    """``create_pipeline`` imported on first use: importing this package's params does not import its nodes."""
    if name == "create_pipeline":
        from video_similarity.pipelines.baselines.pipeline import create_pipeline

        return create_pipeline
    raise AttributeError(name)
