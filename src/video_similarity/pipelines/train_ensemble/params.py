"""The ensemble's parameters (``params:train_ensemble``) with their defaults, in one place."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from video_similarity.params import parse


@dataclass(frozen=True)
class MemberParams:
    """One member: trained (a ``backbone``), or ``frozen`` (any registry ``encoder``, e.g. SSCD, used as it is).

    The fields a trained member leaves out come from the section's defaults.
    """

    name: str
    dim: int
    epochs: int
    batch_size: int  # positive pairs per process and step (the loss sees 2 x batch x processes)
    lr: float
    seed: int
    backbone: str | None = None
    weights: str | None = None  # a name in the catalog entry pretrained_weights
    frozen: bool = False
    encoder: dict | None = None  # a frozen member's registry entry: {builder, weights, options}
    teacher: dict | None = None  # a trained member's teacher (a registry entry; SSCD by default) ...
    teacher_weight: float = 0.0  # ... and the weight of its distillation term (0: no teacher)


#: Member fields a section may give a default for.
MEMBER_DEFAULTS = ("dim", "epochs", "batch_size", "lr", "seed", "weights", "teacher", "teacher_weight")


@dataclass(frozen=True)
class TrainEnsembleParams:
    split: str = "train"  # frames and ground truth of this split train the models
    image_size: int = 64  # model input (whole frame resized, no crop); conf/gpu: 224
    tau: float = 0.05  # InfoNCE temperature
    koleo_weight: float = 0.1
    weight_decay: float = 1e-4
    synthetic_pairs: int = 128  # procedurally rendered images added as self-pairs (distinct negatives)
    dim: int = 256
    epochs: int = 8
    batch_size: int = 32
    lr: float = 1e-4  # gentle: higher rates wash out what the random init already separates
    seed: int = 0
    weights: str | None = None
    teacher: dict | None = field(default_factory=lambda: {"builder": "sscd"})  # whose embedding of the clean frame a student is pulled towards
    teacher_weight: float = 0.0
    models: tuple = ()

    @classmethod
    def from_params(cls, params: dict | None) -> "TrainEnsembleParams":
        return parse(cls, params, "train_ensemble")

    def members(self) -> list[MemberParams]:
        """Every ``models`` entry with the section's defaults filled in; unknown keys raise."""
        known = [f.name for f in fields(MemberParams)]
        out = []
        for entry in self.models:
            entry = dict(entry)
            if "weight" in entry:
                raise ValueError(f"train_ensemble model {entry.get('name')!r}: member weights are descriptor settings now, chosen by the "
                                 "tune stage on the training split (or given in tuning.fixed.weights with tuning.mode: fixed)")
            unknown = sorted(set(entry) - set(known))
            if unknown:
                raise ValueError(f"train_ensemble model {entry.get('name')!r}: unknown key(s) {unknown}; known: {known}")
            if "name" not in entry:
                raise ValueError(f"train_ensemble model {entry}: needs a name")
            if entry.get("frozen"):
                if not entry.get("encoder") or "backbone" in entry:
                    raise ValueError(f"train_ensemble model {entry['name']!r}: a frozen member names its encoder (a registry entry), not a backbone")
            elif "backbone" not in entry or "encoder" in entry:
                raise ValueError(f"train_ensemble model {entry['name']!r}: a trained member needs a backbone (frozen: true for an encoder used as it is)")
            defaults = {k: getattr(self, k) for k in MEMBER_DEFAULTS}
            out.append(parse(MemberParams, {**defaults, **entry}, f"train_ensemble model {entry['name']!r}"))
        return out

    def common(self) -> dict:
        """Settings every member's training shares."""
        return {k: getattr(self, k) for k in ("image_size", "tau", "koleo_weight", "weight_decay", "synthetic_pairs")}
