"""Entry points that run under torchrun (``python -m video_similarity.workers.<name> --spec job.json``)."""
