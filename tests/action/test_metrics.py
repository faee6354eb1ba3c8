"""Clip-level, video-level (softmax averaged over a video's clips) and mean per-class accuracy."""

import numpy as np

from video_similarity.action.metrics import chance_accuracy, mean_class_accuracy, score_predictions


def test_video_level_averages_the_clips_softmax():
    labels = {"a": 0, "b": 1}
    ids = np.array(["a", "a", "a", "b", "b"])
    logits = np.array([[0, 5], [3, 0], [3, 0],   # a: one confident wrong clip, two right ones
                       [0, 1], [9, 0]])           # b: one right clip, one very confident wrong one
    result = score_predictions(ids, logits.astype(float), labels, 2)
    assert result.clip_accuracy == 3 / 5
    assert result.videos == 2 and result.clips == 5
    # a: the two right clips outweigh the confident wrong one (mean softmax 0.64 for class 0); b: the confident wrong clip wins
    assert result.confusion.tolist() == [[1, 0], [1, 0]] and result.video_accuracy == 0.5


def test_mean_class_accuracy_weighs_classes_equally_and_skips_absent_ones():
    confusion = np.array([[9, 1, 0], [0, 1, 1], [0, 0, 0]])
    assert mean_class_accuracy(confusion) == (0.9 + 0.5) / 2
    assert chance_accuracy([0, 0, 0, 1]) == 0.75
