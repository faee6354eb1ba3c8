"""One clip-classifier training job (task ``clip_classifier`` of the one training entry), as both action pipelines run it.

A job's folder is a stamped folder of the one cache rule: its stamp is every
setting of the spec plus a digest of its archives' keys, so another setting
or a changed archive starts over, the same ones resume (``model.ckpt``), and
a finished job (``predictions.npz`` and ``history.json``) is not run again.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from video_similarity.action.metrics import FoldResult, score_predictions
from video_similarity.action.sampling import ClipSampling
from video_similarity.cache import inputs_digest, open_stamped
from video_similarity.launch import LaunchConfig, launch

log = logging.getLogger(__name__)

TRAIN_WORKER = "video_similarity.workers.train"
OUTPUTS = ("checkpoint", "predictions", "history")


def classifier_spec(name: str, model: dict, videos: pd.DataFrame, train_ids: list[str], eval_ids: list[str],
                    sampling: ClipSampling, training: dict, folder: Path) -> dict:
    """The job spec: ``videos`` has video_id, archive and label; ``training`` is a ClassifierTraining's spec."""
    rows = videos.set_index("video_id").loc[list(train_ids) + list(eval_ids)]
    return {"task": "clip_classifier", "name": name, "model": model,
            "archives": dict(zip(rows.index, rows["archive"])), "labels": {v: int(y) for v, y in zip(rows.index, rows["label"])},
            "train_ids": list(train_ids), "eval_ids": list(eval_ids), "clip_frames": sampling.frames, "input_size": sampling.size,
            **training, **{key: str(folder / f) for key, f in zip(OUTPUTS, ("model.ckpt", "predictions.npz", "history.json"))}}


def run_classifier_job(spec: dict, launch_params: dict | None, stamp_extra: dict | None = None) -> None:
    """Train unless this exact job is done; resumes a killed one."""
    folder = Path(spec["checkpoint"]).parent
    settings = {k: v for k, v in spec.items() if k not in ("archives", *OUTPUTS)}
    digest = hashlib.sha256(json.dumps({"settings": settings, "archives": inputs_digest(spec["archives"])}, sort_keys=True, default=str).encode())
    open_stamped(folder, {"digest": digest.hexdigest(), **(stamp_extra or {})})
    if Path(spec["predictions"]).is_file() and Path(spec["history"]).is_file():
        log.info("%s: already trained (%s)", spec["name"], folder)
        return
    launch(TRAIN_WORKER, spec, LaunchConfig.from_params(launch_params), workdir=folder / "jobs")


def job_result(spec_or_fold: dict, labels: dict[str, int], num_classes: int) -> FoldResult:
    """The figures of a finished job's test clips."""
    with np.load(spec_or_fold["predictions"]) as saved:
        return score_predictions(saved["video_ids"], saved["logits"], labels, num_classes)
