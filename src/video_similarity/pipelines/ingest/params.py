"""``params:ingest``, with its defaults."""

from __future__ import annotations

from dataclasses import dataclass, field

from video_similarity.demo.params import DemoCorpusConfig
from video_similarity.params import parse


@dataclass(frozen=True)
class IngestParams:
    """``params:ingest``."""

    source: str = "demo"  # demo: build the embedded corpus under `root`, then ingest it | vsc: the official layout
    root: str | None = "data/01_raw/demo"
    splits: list | None = None  # None: every split that has metadata (train, val, test, ...)
    workers: int | None = None  # processes that render the demo corpus; None: all cores
    demo: DemoCorpusConfig = field(default_factory=DemoCorpusConfig)  # the demo corpus (source demo)

    @classmethod
    def from_params(cls, params: dict | None) -> "IngestParams":
        return parse(cls, params, "ingest")
