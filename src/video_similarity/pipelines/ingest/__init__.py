"""Ingest: a dataset in the VSC layout (or the built demo corpus) -> validated tables."""

__all__ = ["create_pipeline"]


def __getattr__(name: str):
    """``create_pipeline`` imported on first use: importing this package's params does not import its nodes."""
    if name == "create_pipeline":
        from video_similarity.pipelines.ingest.pipeline import create_pipeline

        return create_pipeline
    raise AttributeError(name)
