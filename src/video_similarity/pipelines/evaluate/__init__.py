"""evaluate: submission validation, uAP as the official evaluator, PR curve, per-edit breakdown, baselines."""

__all__ = ["create_pipeline"]


def __getattr__(name: str):
    """``create_pipeline`` imported on first use: importing this package's params does not import its nodes."""
    if name == "create_pipeline":
        from video_similarity.pipelines.evaluate.pipeline import create_pipeline

        return create_pipeline
    raise AttributeError(name)
