"""``params:severe``: which encoders, datasets and settings the SEVERE-style evaluation covers."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from video_similarity.action.probe import SEVERE_SUBSET_SEED, ProbeParams
from video_similarity.params import parse
from video_similarity.pipelines.action_recognition.params import ClassifierTraining


@dataclass(frozen=True)
class Setting:
    """One downstream setting: a dataset, optionally a class subset (granularity) and a training sample size."""

    name: str
    dataset: str
    classes: tuple[str, ...] | None = None
    sample_size: int | None = None  # training videos, class-balanced (ceil(N / C) per class); None: all


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
    probe: dict = field(default_factory=dict)  # ProbeParams
    finetune: dict = field(default_factory=dict)  # {encoders: [...], settings: [...], training: ClassifierTraining, dropout}
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
        for key, known in (("finetune", {"encoders", "settings", "dropout", "training"}), ("sample_sizes", {"dataset", "sizes"})):
            unknown = sorted(set(getattr(config, key) or {}) - known)
            if unknown:
                raise ValueError(f"severe.{key}: unknown key(s) {unknown}; known: {', '.join(sorted(known))}")
        config.probe_params()
        config.finetune_training()
        unknown = sorted(set(config.finetune.get("encoders") or []) - set(config.encoders))
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

    def probe_params(self) -> ProbeParams:
        return ProbeParams.from_params(self.probe)

    def finetune_training(self) -> ClassifierTraining:
        defaults = {"optimizer": "adam", "lr": 1e-4, "batch_size": 32, "epochs": 16, "milestones": [6, 10, 14], "gamma": 0.3}
        return ClassifierTraining.from_params({**defaults, **dict((self.finetune or {}).get("training") or {})}, "severe.finetune.training")
