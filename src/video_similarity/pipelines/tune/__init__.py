"""tune: the descriptor settings (members' weights, projection, de-duplication, beta, video-score threshold)
chosen on the training split's ground truth, or the documented fallback without it."""

__all__ = ["create_pipeline"]


def __getattr__(name: str):
    """``create_pipeline`` imported on first use: importing this package's params does not import its nodes."""
    if name == "create_pipeline":
        from video_similarity.pipelines.tune.pipeline import create_pipeline

        return create_pipeline
    raise AttributeError(name)
