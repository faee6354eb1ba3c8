"""The localisers' parameters (``vsc_matching.tn``, ``vsc_matching.network``) and the alignment network's training pairs, with their defaults in one place."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TnParams:
    """VCSL's Temporal Network as the official VSC-2022 baseline runs it (its defaults).

    Beside them, as read in their repositories (docs/vsc_matching.md): the 2nd place at
    2 fps with max_step 4, top_k 3, max_path 100, min_sim 0.2, min_length 3, max_iou 0.2,
    similarity_bias 0.4; the 3rd place (a modified TN, 1 descriptor per second from 2-fps
    frames) with max_step 5, top_k 2, max_path 200, min_sim 0.1, min_length 3, max_iou 1.0,
    similarity_bias 0.5.
    """

    max_step: int = 5  # tn_max_step: a path's next node is < max_step seconds ahead on both axes
    top_k: int = 5  # tn_top_k: reference seconds kept per query second
    max_path: int = 10  # longest-path rounds (max_path + 1 paths are tried)
    min_sim: float = 0.2  # a node's similarity, and a path's mean per step, must exceed this
    min_length: int = 4  # a box's shorter side must be > min_length steps
    max_iou: float = 0.3  # a box overlapping an accepted one this much is dropped
    similarity_bias: float = 0.5  # added to the score-normalised similarity (TN needs positive values); score = max - bias

    def __post_init__(self) -> None:
        if self.max_step < 2 or self.top_k < 1 or self.max_path < 0 or self.min_length < 0:
            raise ValueError("max_step must be >= 2, top_k >= 1, max_path and min_length >= 0")


@dataclass(frozen=True)
class NetworkParams:
    """The alignment network (``models/alignment.py``) and how its heat map becomes boxes."""

    width: int = 32  # channels of each convolution
    dilations: tuple[int, ...] = (1, 2, 4, 8, 1)  # one 3 x 3 convolution per entry: a receptive field of 33 cells
    threshold: float = 0.3  # a cell is copied when its probability is above this; connected cells form one segment
    max_slope: float = 3.0  # a segment whose line fit (reference seconds per query second) is steeper, or flatter than 1 / this, is dropped
    score: str = "similarity"  # a segment's score: its best cell's similarity, or its best probability ("probability")

    def __post_init__(self) -> None:
        if not 0 < self.threshold < 1 or self.max_slope < 1:
            raise ValueError(f"threshold must lie in (0, 1) and max_slope be >= 1; got {self.threshold}, {self.max_slope}")
        if self.score not in ("probability", "similarity"):
            raise ValueError(f"score must be 'probability' or 'similarity', got {self.score!r}")


@dataclass(frozen=True)
class AlignmentTrainingParams:
    """Training pairs composed from the training split's copies (``vsc/alignment_pairs.py``) and the network's schedule."""

    split: str = "train"  # its queries, references and ground truth (never the evaluated split)
    pairs: int = 1500  # composed pairs (the split's real copy pairs and hard negatives are added)
    negative_fraction: float = 0.3  # composed pairs without a copy
    two_copy_fraction: float = 0.3  # composed copies with a second segment of the same reference
    short_fraction: float = 0.3  # segments cut to 2-5 s (TN cannot find them)
    speed_fraction: float = 0.4  # segments played at a speed drawn log-uniformly from [1 / max_speed, max_speed]
    max_speed: float = 2.0
    hard_negatives: int = 5  # per training query: the references it does not copy that it is most similar to
    max_filler: int = 15  # seconds of unrelated footage (other queries' frames) before, between and after segments
    max_query_rows: int = 60
    max_reference_rows: int = 120  # longer references are cropped around the copy
    noise_references: int = 200  # references (other than the pair's) whose frames set each query frame's score-normalisation bias
    epochs: int = 12
    batch_size: int = 16
    lr: float = 0.002
    weight_decay: float = 0.0001
    positive_weight: float = 1.0  # of the copied cells in the loss; 1 keeps the probabilities, by which segments are ranked, calibrated
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("negative_fraction", "two_copy_fraction", "short_fraction", "speed_fraction"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must lie in [0, 1], got {getattr(self, name)}")
        if self.max_speed < 1 or self.pairs < 0 or self.max_query_rows < 2 or self.max_reference_rows < 2:
            raise ValueError("max_speed must be >= 1, pairs >= 0, max_query_rows and max_reference_rows >= 2")
