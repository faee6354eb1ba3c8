"""Custom Kedro datasets for artifacts kedro-datasets has no type for."""

from video_similarity.datasets.frame_archives import FrameArchivesDataset, FrameArchiveStore

__all__ = ["FrameArchiveStore", "FrameArchivesDataset"]
