"""The learned localiser: heat-map decoding, and a small trained network finding a short copy that TN cannot."""

import numpy as np
import pytest
import torch

from video_similarity.models.alignment import AlignmentNet, pad_matrices
from video_similarity.models.checkpoint import export_torchscript
from video_similarity.vsc.localization.network import NetworkLocalizer, decode_heatmap
from video_similarity.vsc.localization.params import NetworkParams, TnParams
from video_similarity.vsc.localization.registry import TnLocalizer


def test_a_diagonal_line_becomes_one_box_with_its_best_probability():
    prob = np.zeros((10, 12))
    for i in range(2, 7):
        prob[i, i + 3] = 0.5 + 0.1 * (i - 2)
    boxes, scores = decode_heatmap(prob, threshold=0.3, max_slope=3.0)
    assert np.allclose(boxes, [[2, 5, 7, 10]])  # half-open rows: query seconds 2..7, reference 5..10
    assert scores.tolist() == pytest.approx([0.9])


def test_two_segments_are_two_boxes_best_first_and_a_static_column_is_dropped():
    prob = np.zeros((20, 20))
    for i in range(3):
        prob[1 + i, 1 + i] = 0.6
        prob[12 + i, 14 + 2 * i] = 0.95  # slope 2 (each query second spans two reference seconds)
        prob[12 + i, 15 + 2 * i] = 0.95
    prob[5:15, 9] = 0.9  # ten query seconds on one reference second: a still frame, not a played segment
    boxes, scores = decode_heatmap(prob, threshold=0.3, max_slope=3.0)
    # the slope-2 segment's reference span is its line's (from the cells' centres), not the cells' ragged extent
    assert np.allclose(boxes, [[12, 14, 15, 20], [1, 1, 4, 4]])
    assert scores.tolist() == pytest.approx([0.95, 0.6])


def test_nothing_above_the_threshold_is_nothing():
    boxes, scores = decode_heatmap(np.full((5, 5), 0.2), threshold=0.3, max_slope=3.0)
    assert boxes.shape == (0, 4) and scores.shape == (0,)


def _planted(rng, h, w, length):
    """Background similarity with a copied run of ``length`` seconds on the diagonal at a random place."""
    sims = rng.normal(-0.5, 0.04, (h, w)).astype(np.float32)
    target = np.zeros((h, w), np.uint8)
    q0, r0 = int(rng.integers(0, h - length)), int(rng.integers(0, w - length))
    for i in range(length):
        sims[q0 + i, r0 + i] = rng.uniform(0.2, 0.5)
        target[q0 + i, r0 + i] = 1
    return sims, target, (q0, r0)


def test_a_trained_network_finds_a_three_second_copy_that_tn_misses(tmp_path):
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    model = AlignmentNet(8, (1, 2, 1))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(150):
        batch = [_planted(rng, 16, 16, int(rng.integers(2, 6))) for _ in range(8)]
        x, mask = pad_matrices([b[0] for b in batch])
        y, _ = pad_matrices([b[1].astype(np.float32) for b in batch], value=0.0)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(torch.from_numpy(x), torch.from_numpy(mask)), torch.from_numpy(y))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    export_torchscript(model, tmp_path / "alignment.pt")
    network = NetworkLocalizer(str(tmp_path / "alignment.pt"), NetworkParams(width=8, dilations=(1, 2, 1), score="probability"))
    sims, _, (q0, r0) = _planted(np.random.default_rng(123), 20, 24, 3)

    tn_boxes, _ = TnLocalizer(TnParams())(sims)
    boxes, scores = network(sims)
    # TN needs a box's shorter side > min_length (4) steps: it returns nothing, or a box stretched over unrelated seconds
    assert all(q1 - q0 > 5 and r1 - r0 > 5 for q0, r0, q1, r1 in tn_boxes.tolist())
    assert len(boxes) == 1
    assert boxes[0].tolist() == pytest.approx([q0, r0, q0 + 3, r0 + 3], abs=0.05)
    assert scores[0] > 0.5


def test_a_line_fit_gives_sub_second_reference_edges_and_similarity_scores():
    prob = np.zeros((8, 8))
    sims = np.full((8, 8), -0.5)
    for i in range(4):  # half speed: two query seconds per reference second
        prob[2 + i, 3 + i // 2] = 0.9
        sims[2 + i, 3 + i // 2] = 0.2 + 0.1 * i
    boxes, scores = decode_heatmap(prob, threshold=0.3, max_slope=3.0, sims=sims)
    q0, r0, q1, r1 = boxes[0]
    assert (q0, q1) == (2, 6) and 3 <= r0 < r1 <= 5 and r1 - r0 == pytest.approx(0.8 * (q1 - q0) / 2, rel=0.3)
    assert scores.tolist() == pytest.approx([0.5])  # the best similarity among the segment's cells
