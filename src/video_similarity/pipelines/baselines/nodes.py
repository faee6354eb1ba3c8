"""A baseline is an ensemble of one registry encoder that nothing trains; it then goes through the ensemble's stages."""

from __future__ import annotations

from video_similarity.models.registry import EncoderSpec
from video_similarity.pipelines.baselines.params import BaselineParams
from video_similarity.vsc.settings import DescriptorSettings


def baseline_members(name: str, baseline: dict, pretrained_weights: dict[str, str]) -> dict:
    """``params:baselines.<name>`` -> the members manifest the stages read (``{"members": {name: entry}}``)."""
    config = BaselineParams.from_params(name, baseline)
    spec = EncoderSpec.from_params(name, config.encoder).resolved(pretrained_weights)
    return {"members": {spec.name: spec.job_entry()}, "baseline": spec.name}


def baseline_settings(name: str, baseline: dict) -> dict:
    """The baseline's descriptor settings: its encoder alone, its projection, no de-duplication, nothing suppressed."""
    config = BaselineParams.from_params(name, baseline)
    return DescriptorSettings({name: 1.0}, config.projection, None, config.beta, None, "baseline",
                              f"baseline {name}: fixed settings (params:baselines.{name})").to_dict()
