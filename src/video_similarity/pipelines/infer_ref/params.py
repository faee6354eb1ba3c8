"""``params:inference``, shared by infer_ref, infer_query and evaluate, with its defaults."""

from __future__ import annotations

from dataclasses import dataclass

from video_similarity.params import parse


@dataclass(frozen=True)
class InferenceParams:
    split: str = "test"  # the split that is evaluated (its queries and references)
    noise_split: str = "train"  # references of another split form the score-normalisation noise bank
    batch_size: int = 64

    @classmethod
    def from_params(cls, params: dict | None) -> "InferenceParams":
        config = parse(cls, params, "inference")
        if config.noise_split == config.split:
            raise ValueError(
                f"inference.noise_split is {config.split!r}, the evaluated split itself: the noise bank must come from "
                "another split's references (the official baseline refuses an overlapping noise bank)"
            )
        return config
