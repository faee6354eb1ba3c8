"""FIVR / CC_WEB_VIDEO retrieval: encoder zoo, frame- and video-level similarity, exact mAP."""

__all__ = ["create_pipeline"]


def __getattr__(name: str):
    """``create_pipeline`` imported on first use: importing this package's params does not import its nodes."""
    if name == "create_pipeline":
        from video_similarity.pipelines.retrieval.pipeline import create_pipeline

        return create_pipeline
    raise AttributeError(name)
