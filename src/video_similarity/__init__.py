"""video_similarity: video copy detection and retrieval as Kedro pipelines."""

__version__ = "0.1.0"
