"""``params:train_vid_score``, with its defaults."""

from __future__ import annotations

from dataclasses import dataclass

from video_similarity.params import parse


@dataclass(frozen=True)
class TrainVideoScoreParams:
    """``params:train_vid_score``; the model and schedule default to the rank-1's, depth and width to a CPU size."""

    split: str = "train"  # its queries and ground truth train the model
    encoder: dict | None = None  # frame features: a registry entry; null: the ensemble's first frozen member
    max_frames: int = 256  # 1-fps frames per video (longer videos are sampled uniformly)
    width: int = 128  # rank-1: 768 (BERT-base)
    depth: int = 2  # rank-1: 12
    heads: int = 4
    dropout: float = 0.1
    lr: float = 5e-5
    weight_decay: float = 0.01
    warmup: float = 0.1  # fraction of the steps with a linear warm-up, then linear decay to 0
    epochs: int = 10
    batch_size: int = 64  # videos per process and step
    val_fraction: float = 0.2  # training queries held out (stratified by label) to report AP and recall
    seed: int = 0

    @classmethod
    def from_params(cls, params: dict | None) -> "TrainVideoScoreParams":
        return parse(cls, params, "train_vid_score")
