"""Custom Kedro datasets for artifacts kedro-datasets has no type for."""

from video_similarity.datasets.descriptor_files import DescriptorsDataset, FaissIndexDataset, ProjectionDataset
from video_similarity.datasets.directory import Directory, DirectoryDataset
from video_similarity.datasets.frame_archives import FrameArchiveManifestDataset, FrameArchivesDataset, FrameArchiveStore
from video_similarity.datasets.torch_files import CheckpointDataset, TorchScriptDataset
from video_similarity.datasets.weight_files import WeightFilesDataset

__all__ = [
    "CheckpointDataset",
    "DescriptorsDataset",
    "Directory",
    "DirectoryDataset",
    "FaissIndexDataset",
    "FrameArchiveManifestDataset",
    "FrameArchiveStore",
    "FrameArchivesDataset",
    "ProjectionDataset",
    "TorchScriptDataset",
    "WeightFilesDataset",
]
