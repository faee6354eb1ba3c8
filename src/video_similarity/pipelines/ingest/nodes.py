"""Ingest nodes: locate (or build) the raw dataset, then index and validate it."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from video_similarity.ingest.problems import DatasetUnusableError
from video_similarity.ingest.vsc_layout import index_vsc_layout, ingest_report
from video_similarity.pipelines.ingest.params import IngestParams

log = logging.getLogger(__name__)

SOURCES = ("demo", "vsc")


def locate_dataset(ingest: dict) -> str:
    """Return the dataset root; for source ``demo``, build the embedded corpus there first."""
    config = IngestParams.from_params(ingest)
    source, root = config.source, config.root
    if source not in SOURCES:
        raise ValueError(f"ingest.source must be one of {SOURCES}, got {source!r}")
    if not root:
        raise DatasetUnusableError(
            "ingest.root is not set; for real data run with --env=vsc --params=vsc_root=/path/to/vsc"
        )
    if source == "demo":
        from video_similarity.demo.corpus import plan_corpus, write_corpus

        write_corpus(plan_corpus(config.demo), root, workers=config.workers)
    return str(Path(root))


def index_dataset(
    root: str, ingest: dict
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame, dict]:
    """Validate the VSC-layout directory: video index, ground truth (segments, pairs), edits, report."""
    try:
        index = index_vsc_layout(root, IngestParams.from_params(ingest).splits)
    except DatasetUnusableError as error:  # the report is written all the same (hooks.SaveReportOnFailure)
        if error.report is None:
            error.report = {"root": str(Path(root).resolve()), "splits": [], "counts": {}, "n_skipped": 0, "skipped_by_kind": {}, "skipped": []}
        error.report["error"] = str(error)
        raise
    report = ingest_report(index)
    log.info(
        "Ingested %d videos from %s (splits %s); %d item(s) skipped",
        len(index.videos), root, ", ".join(index.splits), report["n_skipped"],
    )
    return index.videos, index.matching, index.pairs, index.edits, report
