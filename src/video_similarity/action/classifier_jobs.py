"""One clip-classifier training job (``training/tasks/clip_classifier.py``), as both action pipelines run it.

A job's folder is a stamped folder of the one cache rule: its stamp is every
setting of the job plus a digest of its archives' keys, so another setting
or a changed archive starts over, the same ones resume (``model.ckpt``), and
a finished job (``predictions.npz`` and ``history.json``) is not run again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from video_similarity.action.metrics import FoldResult, score_predictions
from video_similarity.action.sampling import ClipSampling
from video_similarity.cache import inputs_digest, open_stamped
from video_similarity.jobs import run_job
from video_similarity.training.tasks.clip_classifier import ClipClassifierJob

log = logging.getLogger(__name__)

OUTPUTS = ("checkpoint", "predictions", "history")


def classifier_job(name: str, model: dict, videos: pd.DataFrame, train_ids: list[str], eval_ids: list[str],
                   sampling: ClipSampling, training, folder: Path) -> ClipClassifierJob:
    """The job: ``videos`` has video_id, archive and label; ``training`` is a ClassifierTraining."""
    rows = videos.set_index("video_id").loc[list(train_ids) + list(eval_ids)]
    return ClipClassifierJob(
        name=name, model=model, archives=dict(zip(rows.index, rows["archive"])), labels={v: int(y) for v, y in zip(rows.index, rows["label"])},
        train_ids=list(train_ids), eval_ids=list(eval_ids), clip_frames=sampling.frames, input_size=sampling.size,
        **dataclasses.asdict(training), **{key: str(folder / f) for key, f in zip(OUTPUTS, ("model.ckpt", "predictions.npz", "history.json"))})


def run_classifier_job(job: ClipClassifierJob, launch_params: dict | None, stamp_extra: dict | None = None) -> None:
    """Train unless this exact job is done; resumes a killed one."""
    folder = Path(job.checkpoint).parent
    settings = {k: v for k, v in dataclasses.asdict(job).items() if k not in ("archives", *OUTPUTS)}
    digest = hashlib.sha256(json.dumps({"settings": settings, "archives": inputs_digest(job.archives)}, sort_keys=True, default=str).encode())
    open_stamped(folder, {"digest": digest.hexdigest(), **(stamp_extra or {})})
    if Path(job.predictions).is_file() and Path(job.history).is_file():
        log.info("%s: already trained (%s)", job.name, folder)
        return
    run_job(job, launch_params, workdir=folder / "jobs")


def job_result(predictions: str | Path, labels: dict[str, int], num_classes: int) -> FoldResult:
    """The figures of a finished job's test clips (its ``predictions`` file)."""
    with np.load(predictions) as saved:
        return score_predictions(saved["video_ids"], saved["logits"], labels, num_classes)
