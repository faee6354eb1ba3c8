"""A baseline is an ensemble of one registry encoder that nothing trains; it then goes through the ensemble's stages."""

from __future__ import annotations

from video_similarity.models.registry import EncoderSpec


def baseline_members(name: str, baseline: dict, pretrained_weights: dict[str, str]) -> dict:
    """``params:baselines.<name>`` -> the members manifest the stages read (``{"members": {name: entry}}``)."""
    unknown = sorted(set(baseline) - {"encoder", "pca"})
    if unknown:
        raise ValueError(f"baselines.{name}: unknown key(s) {unknown}; known: encoder, pca")
    spec = EncoderSpec.from_params(name, baseline.get("encoder")).resolved(pretrained_weights)
    return {"members": {spec.name: spec.job_entry()}, "baseline": spec.name}
