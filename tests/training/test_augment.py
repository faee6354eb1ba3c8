import numpy as np
import pandas as pd
import pytest
import torch

from video_similarity.training.augment import (
    FrameAugmenter,
    Jpeg,
    PairSampler,
    Resize,
    aligned_frames,
    ground_truth_pairs,
    random_crop_box,
    self_pairs,
    to_tensor,
)


def textured(h, w, seed=0):
    """A frame with structure and noise, free of saturated red (for the overlay test)."""
    rng = np.random.default_rng(seed)
    base = np.linspace(40, 200, h * w * 3).reshape(h, w, 3)
    return np.clip(base + rng.normal(0, 25, base.shape), 0, 255).astype(np.uint8)


def gray_frame(h, w, seed=0):
    value = np.random.default_rng(seed).integers(60, 200, (h, w, 1))
    return np.repeat(value, 3, axis=2).astype(np.uint8)


def red_pixels(image):
    r, g, b = (image[:, :, c].astype(int) for c in range(3))
    return int(((r > 180) & (g < 60) & (b < 60)).sum())


@pytest.mark.parametrize("strength", ["mild", "hard"])
@pytest.mark.parametrize("shape", [(120, 160), (37, 91), (480, 270), (91, 37)])
def test_views_have_the_output_shape_and_change_pixels(strength, shape):
    frame = textured(*shape)
    plain = Resize(64)(frame, 0).astype(int)
    augment = FrameAugmenter(64, strength, seed=1)
    others = [textured(50, 70, seed=2)]
    for _ in range(8):
        view = augment(frame, others)
        assert view.shape == (64, 64, 3) and view.dtype == np.uint8
        assert np.abs(view.astype(int) - plain).mean() > 1.0


def test_odd_output_sizes_and_grayscale_inputs_are_handled():
    augment = FrameAugmenter(33, "hard", seed=0)
    for frame in (textured(37, 91), textured(37, 91)[:, :, 0], textured(20, 20)[::-1, ::-1]):
        assert augment(frame).shape == (33, 33, 3)


def test_a_seed_makes_views_reproducible():
    frame, others = textured(90, 120), [textured(60, 80, seed=3)]
    for strength in ("mild", "hard"):
        first, second = FrameAugmenter(48, strength, seed=7), FrameAugmenter(48, strength, seed=7)
        views1 = [first(frame, others) for _ in range(6)]
        views2 = [second(frame, others) for _ in range(6)]
        assert all(np.array_equal(x, y) for x, y in zip(views1, views2))
        other_seed = [FrameAugmenter(48, strength, seed=8)(frame, others) for _ in range(6)]
        assert not all(np.array_equal(x, y) for x, y in zip(views1, other_seed))
        # successive views of one augmenter differ
        assert not all(np.array_equal(views1[0], v) for v in views1[1:])


def test_reseed_restarts_the_sequence():
    frame = textured(64, 64)
    augment = FrameAugmenter(32, "hard", seed=5)
    first = augment(frame)
    augment(frame)
    augment.reseed(5)
    assert np.array_equal(augment(frame), first)


def test_hard_views_overlay_and_embed_other_frames():
    frame = gray_frame(72, 96)
    red = np.zeros((40, 40, 3), np.uint8)
    red[:] = (255, 0, 0)
    gray_other = gray_frame(40, 40, seed=9)
    # the same seed draws the same chains, so only the content of `others` differs
    with_red = FrameAugmenter(48, "hard", seed=11)
    with_gray = FrameAugmenter(48, "hard", seed=11)
    red_counts = [red_pixels(with_red(frame, [red])) for _ in range(150)]
    gray_counts = [red_pixels(with_gray(frame, [gray_other])) for _ in range(150)]
    more = sum(r > g + 50 for r, g in zip(red_counts, gray_counts))
    assert more >= 15  # overlay (p=0.3) and pip (p=0.2) show the other frame
    assert sum(red_counts) > 5 * max(1, sum(gray_counts))


def test_mild_views_never_use_other_frames():
    frame = gray_frame(72, 96)
    red = np.full((40, 40, 3), (255, 0, 0), np.uint8)
    a, b = FrameAugmenter(48, "mild", seed=3), FrameAugmenter(48, "mild", seed=3)
    for _ in range(40):
        assert np.array_equal(a(frame, [red]), b(frame))


def test_invalid_arguments_are_rejected():
    with pytest.raises(ValueError, match="strength"):
        FrameAugmenter(64, "medium")
    with pytest.raises(ValueError, match="uint8"):
        FrameAugmenter(64)(np.zeros((10, 10, 3), np.float32))


def test_random_crop_box_keeps_area_and_aspect():
    rng = np.random.default_rng(0)
    for _ in range(50):
        l, t, r, b = random_crop_box(200, 200, rng, (0.2, 0.6))  # every drawn box fits
        assert 0 <= l < r <= 1 and 0 <= t < b <= 1
        assert 0.19 <= (r - l) * (b - t) <= 0.61
        assert 0.74 <= (r - l) / (b - t) <= 1.35


def test_random_crop_box_still_moves_on_elongated_frames():
    rng = np.random.default_rng(0)
    boxes = [random_crop_box(37, 91, rng, (0.6, 1.0)) for _ in range(20)]
    for l, t, r, b in boxes:
        assert (t, b) == (0.0, 1.0) and 0 <= l < r <= 1
    assert len({box[0] for box in boxes}) > 5


def test_jpeg_changes_pixels_more_at_low_quality():
    frame = textured(64, 64)
    err = {q: np.abs(Jpeg(q)(frame, 0).astype(int) - frame).mean() for q in (10, 90)}
    assert err[10] > err[90] > 0


def test_to_tensor_layout_and_range():
    images = [np.zeros((5, 7, 3), np.uint8), np.full((5, 7, 3), 255, np.uint8)]
    images[0][1, 2] = (255, 128, 0)
    batch = to_tensor(images)
    assert batch.shape == (2, 3, 5, 7) and batch.dtype == torch.float32
    assert float(batch.min()) == 0.0 and float(batch.max()) == 1.0
    assert torch.allclose(batch[0, :, 1, 2], torch.tensor([1.0, 128 / 255, 0.0]))
    with pytest.raises(ValueError):
        to_tensor([])


def test_ground_truth_pairs_align_seconds_including_speed_changes():
    gt = pd.DataFrame(
        [
            # plain copy: query [2, 6) is reference [10, 14)
            ("q1", "r1", 2.0, 6.0, 10.0, 14.0),
            # 2x speed-up: the query span is half the reference span
            ("q1", "r2", 7.0, 10.0, 20.0, 26.0),
            # fractional bounds: only second 2 has its midpoint (2.5) inside [1.7, 3.2)
            ("q2", "r1", 1.7, 3.2, 0.0, 1.5),
            # unknown videos are skipped
            ("q9", "r1", 0.0, 5.0, 0.0, 5.0),
        ],
        columns=["query_id", "ref_id", "query_start", "query_end", "ref_start", "ref_end"],
    )
    pairs = ground_truth_pairs(gt, {"q1": 9, "q2": 5}, {"r1": 30, "r2": 25})
    assert pairs == [
        (("q1", 2), ("r1", 10)), (("q1", 3), ("r1", 11)), (("q1", 4), ("r1", 12)), (("q1", 5), ("r1", 13)),
        # query has 9 frames: second 9 is cut; k=7 -> floor(20 + 0.5 * 2) = 21, k=8 -> 23
        (("q1", 7), ("r2", 21)), (("q1", 8), ("r2", 23)),
        (("q2", 2), ("r1", 0)),
    ]


def test_aligned_frames_clip_to_the_reference_and_skip_empty_segments():
    # k=0,1,2 -> floor(20 + (k + 0.5) * 2) = 21, 23, 25; the reference has 24 frames
    assert aligned_frames(0.0, 3.0, 20.0, 26.0, 10, 24) == [(0, 21), (1, 23), (2, 23)]
    assert aligned_frames(3.0, 3.0, 0.0, 1.0, 10, 10) == []
    assert aligned_frames(0.0, 2.0, 0.0, 2.0, 0, 10) == []


def test_ground_truth_pairs_deduplicate_overlapping_rows():
    gt = pd.DataFrame(
        [("q", "r", 0.0, 2.0, 0.0, 2.0), ("q", "r", 1.0, 3.0, 1.0, 3.0)],
        columns=["query_id", "ref_id", "query_start", "query_end", "ref_start", "ref_end"],
    )
    assert ground_truth_pairs(gt, {"q": 5}, {"r": 5}) == [(("q", 0), ("r", 0)), (("q", 1), ("r", 1)), (("q", 2), ("r", 2))]


def test_self_pairs_pair_each_frame_with_itself():
    assert self_pairs({"a": 2, "b": 1}) == [(("a", 0), ("a", 0)), (("a", 1), ("a", 1)), (("b", 0), ("b", 0))]


def test_pair_sampler_batches_cover_every_pair_without_repeating_a_video():
    pairs = self_pairs({f"v{i}": 3 for i in range(10)}) + [(("q", k), ("v0", k)) for k in range(3)]
    sampler = PairSampler(pairs, seed=0)
    batches = list(sampler.batches(4))
    assert sorted(p for batch in batches for p in batch) == sorted(pairs)
    for batch in batches:
        videos = [v for pair in batch for v in {pair[0][0], pair[1][0]}]
        assert len(videos) == len(set(videos)) and 1 <= len(batch) <= 4
    assert all(len(b) == 4 for b in PairSampler(pairs, seed=0).batches(4, drop_last=True))
    assert list(PairSampler(pairs, seed=1).batches(4)) == list(PairSampler(pairs, seed=1).batches(4))
