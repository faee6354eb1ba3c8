"""Training frames: archives decoded once at twice the input size; rendered scenes as one-frame videos; one lookup for both."""

import numpy as np

from video_similarity.frames.archive import ArchiveSettings, write_archive
from video_similarity.training.frames import ArchiveFrames, RenderedScenes, TrainingFrames
from video_similarity.video.decode import SampledFrame


def test_archives_and_rendered_scenes_answer_the_same_lookup(tmp_path):
    rng = np.random.default_rng(0)
    frames = [SampledFrame(k, k, k + 1, rng.integers(0, 256, (40, 56, 3), dtype=np.uint8)) for k in range(3)]
    write_archive(tmp_path / "V.zip", "V", frames, ArchiveSettings())
    archives = ArchiveFrames({"V": str(tmp_path / "V.zip")}, size=16)
    rendered = RenderedScenes(2, size=16, seed=7)
    lookup = TrainingFrames(archives, rendered)
    assert archives.lengths == {"V": 3} and set(rendered.lengths) == {"~synthetic0", "~synthetic1"}
    assert lookup(("V", 1)).shape == (32, 32, 3)  # resized whole to twice the input
    assert lookup(("V", 9)) is lookup(("V", 2))  # an index past the end is the last frame, decoded once
    scene = lookup(("~synthetic1", 0))
    assert scene.shape == (32, 32, 3) and scene.std() > 0
    assert not np.array_equal(scene, lookup(("~synthetic0", 0)))  # distinct scenes, the negatives they are for
    assert np.array_equal(scene, RenderedScenes(2, 16, 7).video("~synthetic1")[0])  # the same seed renders the same scene
    assert not np.array_equal(scene, RenderedScenes(2, 16, 8).video("~synthetic1")[0])
