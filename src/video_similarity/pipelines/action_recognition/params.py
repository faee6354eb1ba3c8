"""``params:action_data`` and ``params:action_recognition``: every setting of the action track, defaults in one place."""

from __future__ import annotations

from dataclasses import dataclass, field

from video_similarity.action.clip_archives import ClipArchiveParams
from video_similarity.action.sampling import SAMPLINGS, ClipSampling
from video_similarity.action.splits import PROTOCOLS
from video_similarity.demo.actions import DOMAINS
from video_similarity.demo.params import ActionDemoParams
from video_similarity.params import parse

SOURCES = ("demo", "ucf")


def sampling_from(value) -> ClipSampling:
    """A sampling by name (``notes``, ``released_tvn1``) or as ``{frames, stride, size}``."""
    if isinstance(value, ClipSampling):
        return value
    if isinstance(value, str):
        if value not in SAMPLINGS:
            raise ValueError(f"unknown sampling {value!r}; known: {', '.join(SAMPLINGS)}, or {{frames, stride, size}}")
        return SAMPLINGS[value]
    return parse(ClipSampling, value, "sampling")


@dataclass(frozen=True)
class ActionDataParams:
    """``params:action_data``: where the videos come from and how each becomes clips (shared by action_recognition and severe)."""

    source: str = "demo"  # demo: render the embedded dataset under `root`, then index it | ucf: a UCF-style folder
    root: str | None = "data/01_raw/actions_demo/photos"
    demo_domain: str = "photos"  # the demo's rendering domain (demo/actions.py)
    demo: ActionDemoParams = field(default_factory=ActionDemoParams)
    sampling: object = field(default_factory=lambda: {"frames": 8, "stride": 10, "size": 32})  # notes | released_tvn1 | {frames, stride, size}
    clips: int = 3  # uniformly spaced clips per video (video-level results average them)
    min_frames: int = 11  # shorter videos are reported and skipped (a clip would be one frame repeated)
    jpeg_quality: int = 95
    workers: int | None = None  # decoding processes; None: all cores

    @classmethod
    def from_params(cls, params: dict | None) -> "ActionDataParams":
        config = parse(cls, params, "action_data")
        if config.source not in SOURCES:
            raise ValueError(f"action_data.source must be one of {SOURCES}, got {config.source!r}")
        if config.demo_domain not in DOMAINS:
            raise ValueError(f"action_data.demo_domain must be one of {DOMAINS}, got {config.demo_domain!r}")
        sampling_from(config.sampling)
        return config

    def clip_params(self) -> ClipArchiveParams:
        return ClipArchiveParams(sampling_from(self.sampling), self.clips, self.min_frames, self.jpeg_quality)


@dataclass(frozen=True)
class ClassifierTraining:
    """How a clip classifier is trained (TVN-1 from scratch here; SEVERE's fine-tuning in ``params:severe``)."""

    optimizer: str = "adam"  # adam | sgd
    lr: float = 1e-3
    weight_decay: float = 1e-4
    momentum: float = 0.9  # sgd only
    batch_size: int = 16  # clips per process and step
    epochs: int = 25
    milestones: list = field(default_factory=list)  # epochs at which the lr is multiplied by gamma
    gamma: float = 0.1
    train_clips: str = "first"  # first: the notes' one clip per video (8 of the first 80 frames) | all
    curve_videos: int = 200  # evaluation videos whose first-clip accuracy is recorded after each epoch
    seed: int = 0

    def __post_init__(self) -> None:
        if self.optimizer not in ("adam", "sgd") or self.train_clips not in ("first", "all"):
            raise ValueError(f"optimizer is adam or sgd, train_clips first or all; got {self.optimizer!r}, {self.train_clips!r}")

    @classmethod
    def from_params(cls, params: dict | None, section: str = "action_recognition.training") -> "ClassifierTraining":
        return parse(cls, params, section)


@dataclass(frozen=True)
class ActionRecognitionParams:
    """``params:action_recognition``."""

    protocols: list = field(default_factory=lambda: ["group", "random"])  # of random, group, logo
    test_fraction: float = 0.15
    split_seed: int = 0
    network: str = "tvn1"
    dropout: float = 0.5
    training: ClassifierTraining = field(default_factory=ClassifierTraining)
    latency_runs: int = 20  # timed forward passes of one clip on the CPU (after 3 warm-up passes)
    latency_threads: int | None = None  # torch CPU threads for the latency; None: torch's default

    @classmethod
    def from_params(cls, params: dict | None) -> "ActionRecognitionParams":
        config = parse(cls, params, "action_recognition")
        unknown = sorted(set(config.protocols) - set(PROTOCOLS))
        if unknown or not config.protocols:
            raise ValueError(f"action_recognition.protocols: {unknown or 'none given'}; known: {', '.join(PROTOCOLS)}")
        if config.network != "tvn1":
            raise ValueError(f"action_recognition.network: only tvn1 is built, got {config.network!r}")
        return config

    def classifier_training(self) -> ClassifierTraining:
        return self.training
