"""action_recognition: Tiny Video Network TVN-1 trained from scratch on a UCF-style folder, per evaluation protocol."""

__all__ = ["create_pipeline"]


def __getattr__(name: str):
    """``create_pipeline`` imported on first use: importing this package's params does not import its nodes."""
    if name == "create_pipeline":
        from video_similarity.pipelines.action_recognition.pipeline import create_pipeline

        return create_pipeline
    raise AttributeError(name)
