"""train_vid_score: the rank-1's video editing detection, P(a query holds copied content), trained under torchrun."""

__all__ = ["create_pipeline"]


def __getattr__(name: str):
    """``create_pipeline`` imported on first use: importing this package's params does not import its nodes."""
    if name == "create_pipeline":
        from video_similarity.pipelines.train_vid_score.pipeline import create_pipeline

        return create_pipeline
    raise AttributeError(name)
