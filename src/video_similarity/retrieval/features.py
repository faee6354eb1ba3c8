"""Per-video feature files of one encoder (``<folder>/<video_id>.npy``) and their settings stamp."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

SETTINGS = "settings.json"


def reset_if_changed(folder: Path, settings: dict) -> bool:
    """Empty ``folder`` when it holds features made with other settings; stamp it. True if it was reset."""
    stamp = folder / SETTINGS
    wanted = json.loads(json.dumps(settings, sort_keys=True, default=str))
    reset = False
    if stamp.is_file():
        try:
            same = json.loads(stamp.read_text()) == wanted
        except (OSError, json.JSONDecodeError):
            same = False
        if not same:
            log.info("Settings of %s changed: its features are recomputed", folder)
            shutil.rmtree(folder)
            reset = True
    folder.mkdir(parents=True, exist_ok=True)
    stamp.write_text(json.dumps(wanted, indent=2, sort_keys=True))
    return reset


def failures(folder: Path) -> dict[str, str]:
    """{video_id: error} written by the encode worker's ranks."""
    failed: dict[str, str] = {}
    for path in sorted(folder.glob("failed_rank*.json")):
        failed.update(json.loads(path.read_text()))
    return failed


def load_features(folder: str | Path, video_ids, min_rows: int = 1) -> tuple[dict[str, np.ndarray], list[str]]:
    """Features of ``video_ids`` that exist with at least ``min_rows`` rows, and the ids that do not."""
    folder = Path(folder)
    features, absent = {}, []
    for video_id in video_ids:
        path = folder / f"{video_id}.npy"
        if not path.is_file():
            absent.append(video_id)
            continue
        array = np.load(path)
        if array.ndim != 2 or len(array) < min_rows:
            absent.append(video_id)
            continue
        features[video_id] = array.astype(np.float32, copy=False)
    return features, absent
