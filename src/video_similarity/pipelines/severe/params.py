"""``params:severe``: which encoders, datasets and settings the SEVERE-style evaluation covers."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from video_similarity.action.params import ProbeParams, Setting
from video_similarity.action.probe import SEVERE_SUBSET_SEED
from video_similarity.params import parse
from video_similarity.pipelines.action_recognition.params import ClassifierTraining


@dataclass(frozen=True)
class FinetuneParams:
    """``severe.finetune``: which encoders are fine-tuned end to end on which settings (SEVERE's fine-tuning)."""

    encoders: list[str] = field(default_factory=list)  # none: no fine-tuning
    settings: list[str] = field(default_factory=list)  # none: every setting
    dropout: float = 0.5
    training: dict = field(default_factory=dict)  # overrides of SEVERE_FINETUNE_TRAINING (a ClassifierTraining)


#: SEVERE's fine-tuning schedule: Adam, lr 1e-4, batch 32, 16 epochs, lr x 0.3 at epochs 6, 10 and 14.
SEVERE_FINETUNE_TRAINING = {"optimizer": "adam", "lr": 1e-4, "batch_size": 32, "epochs": 16, "milestones": [6, 10, 14], "gamma": 0.3}


@dataclass(frozen=True)
class SevereParams:
    """``params:severe``."""

    datasets: dict = field(default_factory=dict)  # name -> overrides of params:action_data (a root, a demo domain)
    encoders: dict = field(default_factory=dict)  # name -> registry entry (+ trained_fold: a fold of action_models as weights)
    settings: dict = field(default_factory=dict)  # name -> {dataset, classes}
    sample_sizes: dict = field(default_factory=dict)  # {dataset, sizes: [N, ...]}: in-domain subsets
    test_fraction: float = 0.15  # group-held-out split of every dataset (the TVN's group fold when the data is the same)
    split_seed: int = 0
    subset_seed: int = SEVERE_SUBSET_SEED
    probe: ProbeParams = field(default_factory=ProbeParams)
    finetune: FinetuneParams = field(default_factory=FinetuneParams)
    batch_size: int = 16  # clips per extraction batch

    @classmethod
    def from_params(cls, params: dict | None) -> "SevereParams":
        config = parse(cls, params, "severe")
        # an env leaves out a base entry by setting it to null
        config = dataclasses.replace(config, **{k: {n: e for n, e in getattr(config, k).items() if e is not None and e is not False}
                                                for k in ("datasets", "encoders", "settings")})
        if not config.datasets or not config.encoders or not config.settings:
            raise ValueError("severe: datasets, encoders and settings must each name at least one entry")
        for setting in config.all_settings():
            if setting.dataset not in config.datasets:
                raise ValueError(f"severe setting {setting.name!r}: unknown dataset {setting.dataset!r}; known: {', '.join(config.datasets)}")
        unknown = sorted(set(config.sample_sizes or {}) - {"dataset", "sizes"})
        if unknown:
            raise ValueError(f"severe.sample_sizes: unknown key(s) {unknown}; known: dataset, sizes")
        config.finetune_training()
        unknown = sorted(set(config.finetune.encoders) - set(config.encoders))
        if unknown:
            raise ValueError(f"severe.finetune.encoders: unknown encoder(s) {unknown}; known: {', '.join(config.encoders)}")
        return config

    def all_settings(self) -> list[Setting]:
        """The named settings, then one in-domain setting per sample size (``n=<N>``)."""
        out = []
        for name, entry in self.settings.items():
            entry = dict(entry)
            unknown = sorted(set(entry) - {"dataset", "classes"})
            if unknown or "dataset" not in entry:
                raise ValueError(f"severe setting {name!r}: needs dataset (and optionally classes), got {sorted(entry)}")
            out.append(Setting(name, entry["dataset"], tuple(entry["classes"]) if entry.get("classes") else None))
        if self.sample_sizes:
            sizes = dict(self.sample_sizes)
            out += [Setting(f"n={int(n)}", sizes["dataset"], None, int(n)) for n in sizes.get("sizes") or []]
        return out

    def finetune_training(self) -> ClassifierTraining:
        return ClassifierTraining.from_params({**SEVERE_FINETUNE_TRAINING, **self.finetune.training}, "severe.finetune.training")
