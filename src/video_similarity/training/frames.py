"""The frames a descriptor member trains on: decoded frame archives, and procedurally rendered scenes.

Both are frame sources ({video id: frames}); the task pairs their frames and
never asks which kind an id is. Rendered scenes are an unlimited supply of
distinct images for self-pairs (more negatives than a small training split has).
"""

from __future__ import annotations

import numpy as np

from video_similarity.frames.archive import FrameArchive
from video_similarity.workers.common import prepare


class ArchiveFrames:
    """Frame archives' frames at twice the model's input size, decoded once and kept in memory."""

    def __init__(self, archives: dict[str, str], size: int):
        self.archives, self.size, self.frames = archives, size, {}
        self.lengths = {}
        for video_id, path in archives.items():
            with FrameArchive(path) as archive:
                self.lengths[video_id] = len(archive)

    def video(self, video_id: str) -> list[np.ndarray]:
        if video_id not in self.frames:
            with FrameArchive(self.archives[video_id]) as archive:
                self.frames[video_id] = [prepare(f, 2 * self.size) for f in archive.frames()]
        return self.frames[video_id]


class RenderedScenes:
    """``count`` one-frame "videos", each a random shapes scene (``demo.scenes``) rendered at twice the input size."""

    PREFIX = "~synthetic"

    def __init__(self, count: int, size: int, seed: int):
        self.size, self.seed, self.frames = size, seed, {}
        self.lengths = {f"{self.PREFIX}{i}": 1 for i in range(count)}

    def video(self, video_id: str) -> list[np.ndarray]:
        if video_id not in self.frames:
            from video_similarity.demo.scenes import random_shapes_scene

            rng = np.random.default_rng((self.seed, int(video_id[len(self.PREFIX):])))
            self.frames[video_id] = [random_shapes_scene(rng).render(float(rng.uniform(0, 10)), (2 * self.size, 2 * self.size))]
        return self.frames[video_id]


class TrainingFrames:
    """Several frame sources as one: ``frames((video, index))`` is a frame of whichever source holds the video."""

    def __init__(self, *sources):
        self.owner = {video_id: source for source in sources for video_id in source.lengths}

    def __call__(self, key) -> np.ndarray:
        video_id, index = key
        frames = self.owner[video_id].video(video_id)
        return frames[min(index, len(frames) - 1)]
