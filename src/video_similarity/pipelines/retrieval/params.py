"""The retrieval parameters (``params:retrieval``) with their defaults, in one place."""

from __future__ import annotations

from dataclasses import dataclass, field

from video_similarity.demo.params import FivrDemoConfig
from video_similarity.params import as_dict, parse


@dataclass(frozen=True)
class VideoEncoderParams:
    """``retrieval.video_encoder``: the notes' Model #2, a transformer over frame features."""

    enabled: bool = True
    name: str = "video_transformer"
    base_encoder: str = "resnet50_avgpool"
    positive_labels: tuple[str, ...] = ("ND", "DS")  # annotated pairs of training queries used as positives
    dim: int = 256
    depth: int = 2
    heads: int = 4
    max_len: int = 64
    dropout: float = 0.1
    epochs: int = 60
    batch_size: int = 32  # videos per step (their views are the negatives)
    lr: float = 3e-4
    weight_decay: float = 1e-4
    tau: float = 0.07
    crop: int = 4  # frames per view
    noise: float = 0.1  # norm of the Gaussian noise added to each (unit) frame feature
    frame_drop: float = 0.1
    seed: int = 0

    @classmethod
    def from_params(cls, params: dict | None) -> "VideoEncoderParams":
        return parse(cls, params, "retrieval.video_encoder")

    def training_settings(self) -> dict:
        """What the training job needs (everything but the pipeline's own switches)."""
        settings = as_dict(self)
        for key in ("enabled", "name", "base_encoder", "positive_labels"):
            settings.pop(key)
        return settings


@dataclass(frozen=True)
class WhiteningParams:
    """``whitening:`` of an R-MAC / iMAC encoder entry: PCA whitening fitted on a sample of regional vectors."""

    dims: int | None = None  # None: every dimension
    max_frames: int = 5000  # frames sampled (evenly over the videos) to fit on
    fit_on: str = "database"  # database | query | all: the videos whose frames are sampled

    @classmethod
    def from_params(cls, params: dict | None, section: str) -> "WhiteningParams":
        return parse(cls, params, section)


@dataclass(frozen=True)
class SimilarityParams:
    """``retrieval.similarity``."""

    methods: tuple[str, ...] = ("video_level", "chamfer", "symmetric_chamfer", "topk_chamfer")
    topk: int = 3  # top-k Chamfer (3D-CSL)
    chunk_frames: int = 20000  # database frames per chunk: bounds memory, speed is the same
    rerank_fraction: float | None = 0.05  # DnS: frame-level methods again on each query's top share by video-level score; null: off
    rerank_top_n: int | None = 100  # ... at least this many videos per query (a small database is re-ranked whole)
    rerank_methods: tuple[str, ...] = ("chamfer", "symmetric_chamfer", "topk_chamfer")  # re-ranked even when `methods` leaves them out
    rerank_storage: str = "float16"  # float32 | float16 | int8: the database shards' rows (retrieval/shards.py)
    rerank_curve: tuple[float, ...] = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)  # fractions of the trade-off plot (no floor)

    @classmethod
    def from_params(cls, params: dict | None) -> "SimilarityParams":
        return parse(cls, params, "retrieval.similarity")


@dataclass(frozen=True)
class RetrievalParams:
    """``params:retrieval``; the nested sections are parsed by their own types (encoders, demo, video encoder)."""

    benchmark: str = "fivr"  # fivr | cc_web
    source: str = "demo"  # demo: render the mini dataset under `root` first | directory: use `root` as it is
    root: str | None = None
    video_dir: str = "videos"
    extensions: list | None = None  # video file extensions to index; null: the common ones (retrieval/layout.py: VIDEO_EXTENSIONS)
    subset: str = "demo"
    subsets: dict | None = None
    annotation: str | None = None
    ground_truth: str | None = None
    train: str | None = None
    train_annotation: str | None = None
    all_db: str = "all"  # all | available
    workers: int | None = None
    batch_size: int = 8  # frames or clips per forward pass in the extraction job
    demo: FivrDemoConfig = field(default_factory=FivrDemoConfig)  # the FIVR-shaped demo (source demo)
    encoders: dict | None = None
    similarity: SimilarityParams = field(default_factory=SimilarityParams)
    video_encoder: VideoEncoderParams = field(default_factory=VideoEncoderParams)

    @classmethod
    def from_params(cls, params: dict | None) -> "RetrievalParams":
        config = parse(cls, params, "retrieval")
        if config.all_db not in ("all", "available"):
            raise ValueError(f"retrieval.all_db must be 'all' or 'available', got {config.all_db!r}")
        return config
