import numpy as np
import pytest
from PIL import Image, ImageEnhance, ImageFilter

from video_similarity.baselines.pdq import PDQEncoder, pdq_features, pdq_vector
from video_similarity.training.augment import to_tensor
from video_similarity.frames.archive import ArchiveSettings, FrameArchive, write_archive
from video_similarity.video.decode import SampledFrame


def scene(seed, h=120, w=160):
    """A frame with large-scale structure (blobs) as real footage has, plus fine noise."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (6, 8, 3)).astype(np.uint8)
    image = np.asarray(Image.fromarray(coarse, "RGB").resize((w, h), Image.BICUBIC), np.float32)
    return np.clip(image + rng.normal(0, 8, image.shape), 0, 255).astype(np.uint8)


def mild_edit(frame):
    pil = ImageEnhance.Brightness(Image.fromarray(frame, "RGB")).enhance(1.1)
    return np.asarray(pil.filter(ImageFilter.GaussianBlur(1.0)))


def test_features_are_plus_minus_one_float32():
    features = pdq_features([scene(0), scene(1)])
    assert features.shape == (2, 256) and features.dtype == np.float32
    assert set(np.unique(features)) <= {-1.0, 1.0}
    assert 50 < (features[0] > 0).sum() < 206  # a real hash, not all one value


def test_identical_frames_give_identical_vectors():
    frame = scene(3)
    a, b = pdq_features([frame, frame.copy()])
    np.testing.assert_array_equal(a, b)
    assert float(a @ b) == 256.0
    np.testing.assert_array_equal(pdq_vector(frame), a)


def test_a_mild_edit_stays_closer_than_an_unrelated_frame():
    for seed in range(5):
        original, edited, unrelated = pdq_features([scene(seed), mild_edit(scene(seed)), scene(seed + 100)])
        assert original @ edited > original @ unrelated
        assert original @ edited > 96  # fewer than 80 of 256 bits flipped; unrelated: about 128


def test_empty_input_and_bad_frames():
    assert pdq_features([]).shape == (0, 256)
    assert pdq_features(iter([scene(0)[:, :, 0]])).shape == (1, 256)  # grayscale is accepted
    with pytest.raises(ValueError, match="uint8"):
        pdq_features([np.zeros((8, 8, 3), np.float32)])


def test_archive_gives_one_row_per_frame(tmp_path):
    path = tmp_path / "v.zip"
    frames = (SampledFrame(k, float(k), float(k + 1), scene(k, 48, 64)) for k in range(4))
    write_archive(path, "v", frames, ArchiveSettings(short_side=48, jpeg_quality=95))
    with FrameArchive(path) as archive:
        timestamps, frames = archive.timestamps, list(archive.frames())
    features = PDQEncoder()(to_tensor(frames)).numpy() * 16  # the encoder's unit rows are the bits / 16
    np.testing.assert_allclose(timestamps, [[0, 1], [1, 2], [2, 3], [3, 4]])
    assert features.shape == (4, 256) and features.dtype == np.float32
    np.testing.assert_array_equal(features, pdq_features(frames))
    # JPEG round trip is a mild edit: each archived frame is still closest to its own source
    sources = pdq_features(scene(k, 48, 64) for k in range(4))
    assert (np.argmax(features @ sources.T, axis=1) == np.arange(4)).all()
