"""The video-score model's scores of query videos: P(the query holds copied content)."""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger(__name__)


def video_scores(vid_score_model: dict | None, archives: dict[str, str], cache_dir: str | Path, launch_params: dict | None,
                 extraction_batch: int, batch_size: int) -> dict[str, float] | None:
    """{query: score} for the queries of ``archives`` the model's encoder could embed; None without a model.

    The model reads its encoder's frame features, which the one extraction
    worker makes (and caches by the one rule) first.
    """
    from video_similarity.extraction import encoder_items
    from video_similarity.models.vid_score import score_videos

    if not vid_score_model or vid_score_model.get("skipped"):
        return None
    encoder = vid_score_model["encoder"]
    items = encoder_items(encoder["name"], encoder["entry"], archives, cache_dir, launch_params, extraction_batch)
    return score_videos(vid_score_model["torchscript"], items, int(vid_score_model["max_frames"]), batch_size)


def score_queries(vid_score_model: dict | None, threshold: float | None, archives: dict[str, str], cache_dir: str | Path,
                  launch_params: dict | None, extraction_batch: int, batch_size: int, off_reason: str | None = None):
    """Every query's video score and whether it is suppressed (below the descriptor settings' ``threshold``).

    A table ``video_id, score, suppressed``; without a model (or ``off_reason``)
    nothing is scored or suppressed; a query without features is kept.
    """
    import numpy as np
    import pandas as pd

    scores = pd.DataFrame({"video_id": sorted(archives), "score": np.nan, "suppressed": False})
    if off_reason:
        log.info("Video score is off (%s): no query is suppressed", off_reason)
        return scores
    found = video_scores(vid_score_model, archives, cache_dir, launch_params, extraction_batch, batch_size)
    if found is None:
        log.info("No video-score model (%s): no query is suppressed", (vid_score_model or {}).get("skipped", "train_vid_score has not run"))
        return scores
    scores["score"] = scores["video_id"].map(found)
    if threshold is None:
        log.info("Video score: %d queries scored; the descriptor settings suppress none", int(scores["score"].notna().sum()))
        return scores
    scores["suppressed"] = scores["score"].lt(threshold).fillna(False).astype(bool)
    log.info("Video score: %d of %d queries below %g are suppressed", int(scores["suppressed"].sum()), len(scores), threshold)
    return scores
