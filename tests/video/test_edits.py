import numpy as np
import pytest

from video_similarity.video.edits import (
    ALL_EDITS,
    FRAME_EDITS,
    MILD_EDITS,
    STRONG_EDITS,
    TEMPORAL_EDITS,
    apply_edits,
    sample_edit,
)


@pytest.fixture
def frame():
    rng = np.random.default_rng(0)
    base = np.linspace(0, 255, 120 * 160 * 3).reshape(120, 160, 3)
    return np.clip(base + rng.normal(0, 20, base.shape), 0, 255).astype(np.uint8)


def _edit(name, seed=1):
    overlay = np.full((50, 60, 3), (255, 0, 0), np.uint8)
    background = lambda index, size: np.full((size[1], size[0], 3), 40 + index, np.uint8)  # noqa: E731
    return sample_edit(name, np.random.default_rng(seed), overlay, background)


@pytest.mark.parametrize("name", FRAME_EDITS)
def test_every_frame_edit_changes_pixels_and_returns_rgb_uint8(frame, name):
    out = _edit(name)(frame, 0)
    assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[2] == 3
    if out.shape == frame.shape:
        assert np.abs(out.astype(int) - frame).mean() > 1.0, f"{name} left the frame unchanged"


@pytest.mark.parametrize("name", FRAME_EDITS)
def test_edits_are_reproducible_from_their_seed(frame, name):
    a, b = _edit(name, seed=7), _edit(name, seed=7)
    np.testing.assert_array_equal(a(frame, 3), b(frame, 3))


def test_size_changing_edits(frame):
    assert _edit("crop")(frame, 0).shape[0] < frame.shape[0]
    assert _edit("pad")(frame, 0).shape[0] > frame.shape[0]
    assert _edit("downscale")(frame, 0).shape[1] < frame.shape[1]


def test_layout_edits_place_the_copy_where_the_boosters_look_for_it(frame):
    h, w = frame.shape[:2]
    side = _edit("side_by_side")
    out = side(frame, 0)
    assert out.shape[0] == h and out.shape[1] == 2 * w + side.separator
    left = out[:, :w] if side.copy_first else out[:, -w:]
    np.testing.assert_array_equal(left, frame)  # the copy is untouched, beside the other footage
    top = _edit("top_bottom", seed=3)
    out = top(frame, 0)
    assert out.shape[1] == w and out.shape[0] == 2 * h + top.separator
    for seed in range(6):  # letterbox bars on top and bottom, or pillarbox bars left and right
        box = _edit("letterbox", seed)
        l, t, r, b = box.sides
        assert (l == r == 0 and t > 0) or (t == b == 0 and l > 0)
    border = _edit("border")
    a, b = border(frame, 0), border(np.zeros_like(frame), 5)
    t, l = int(border.sides[1] * h), int(border.sides[0] * w)
    np.testing.assert_array_equal(a[:t], b[:t])  # the frame around the copy is static
    np.testing.assert_array_equal(a[t : t + h, l : l + w], frame)


def test_noise_differs_per_frame_but_not_per_call(frame):
    noise = _edit("noise")
    assert not np.array_equal(noise(frame, 0), noise(frame, 1))
    np.testing.assert_array_equal(noise(frame, 5), noise(frame, 5))


def test_chain_applies_in_order(frame):
    flip, crop = _edit("flip"), _edit("crop")
    np.testing.assert_array_equal(apply_edits(frame, [flip, crop], 0), crop(flip(frame, 0), 0))


def test_edit_families_are_disjoint_and_complete():
    assert not set(MILD_EDITS) & set(STRONG_EDITS)
    assert set(ALL_EDITS) == set(FRAME_EDITS) | set(TEMPORAL_EDITS)


def test_unknown_or_underspecified_edits_are_clear_errors():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="unknown frame edit 'sepia'"):
        sample_edit("sepia", rng)
    with pytest.raises(ValueError, match="needs an overlay image"):
        sample_edit("overlay", rng)
    with pytest.raises(ValueError, match="needs a background"):
        sample_edit("pip", rng)
    with pytest.raises(ValueError, match="side_by_side edit needs a background"):
        sample_edit("side_by_side", rng)
