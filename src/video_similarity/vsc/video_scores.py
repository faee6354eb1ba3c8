"""The video-score model's scores of query videos: P(the query holds copied content)."""

from __future__ import annotations

from pathlib import Path


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
