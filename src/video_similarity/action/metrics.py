"""Accuracy of clip predictions: clip level, video level (clips' softmax averaged) and mean per class."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FoldResult:
    """One fold's figures; the confusion matrix is video level (rows: true class, columns: predicted)."""

    clip_accuracy: float
    video_accuracy: float
    mean_class_accuracy: float
    clips: int
    videos: int
    confusion: np.ndarray


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def mean_class_accuracy(confusion: np.ndarray) -> float:
    """Mean over the classes present of their recall (the per-class accuracy of UCF papers)."""
    totals = confusion.sum(axis=1)
    present = totals > 0
    return float((np.diag(confusion)[present] / totals[present]).mean()) if present.any() else float("nan")


def score_predictions(video_ids: np.ndarray, logits: np.ndarray, labels: dict[str, int], num_classes: int) -> FoldResult:
    """Figures of one fold's clip logits (rows: clips, ``video_ids`` naming each row's video)."""
    video_ids = np.asarray(video_ids).astype(str)
    if len(video_ids) != len(logits):
        raise ValueError(f"{len(video_ids)} video ids for {len(logits)} rows of logits")
    truth = np.asarray([labels[v] for v in video_ids])
    clip_right = logits.argmax(axis=1) == truth
    probabilities = softmax(np.asarray(logits, np.float64))
    confusion = np.zeros((num_classes, num_classes), np.int64)
    order = list(dict.fromkeys(video_ids))
    for video in order:
        predicted = int(probabilities[video_ids == video].mean(axis=0).argmax())
        confusion[labels[video], predicted] += 1
    videos = len(order)
    return FoldResult(float(clip_right.mean()) if len(truth) else float("nan"),
                      float(np.trace(confusion) / videos) if videos else float("nan"),
                      mean_class_accuracy(confusion), int(len(truth)), videos, confusion)


def chance_accuracy(labels: list[int]) -> float:
    """What always answering the most frequent class scores (the chance line of a report)."""
    if not labels:
        return float("nan")
    return float(np.bincount(labels).max() / len(labels))
