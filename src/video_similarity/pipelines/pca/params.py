"""``params:pca`` with its defaults. What the projection is (none, or a PCA's dimension and whitening power) is a
descriptor setting that the tune stage chooses; these say how any PCA is fitted."""

from __future__ import annotations

from dataclasses import dataclass

from video_similarity.params import parse


@dataclass(frozen=True)
class PcaParams:
    batch_size: int = 64
    frames_per_dim: int = 2  # a PCA gets at most one dimension per this many fitting frames
    max_frames: int | None = 200000  # fitting frames sampled down to this many (null: all)

    @classmethod
    def from_params(cls, params: dict | None) -> "PcaParams":
        return parse(cls, params, "pca")
