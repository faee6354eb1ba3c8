"""vsc_matching: candidates as the official baseline, TN and the alignment network, segment AP, the matching report."""

__all__ = ["create_pipeline"]


def __getattr__(name: str):
    """``create_pipeline`` imported on first use: importing this package's params does not import its nodes."""
    if name == "create_pipeline":
        from video_similarity.pipelines.vsc_matching.pipeline import create_pipeline

        return create_pipeline
    raise AttributeError(name)
