"""Train the video-score model on the training split's queries (label: the query holds a copy), one torchrun job."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging

import numpy as np
import pandas as pd

from video_similarity.cache import inputs_digest, open_stamped
from video_similarity.datasets.directory import Directory
from video_similarity.datasets.frame_archives import FrameArchiveStore
from video_similarity.extraction import encoder_items, encoder_stamp
from video_similarity.jobs import run_job
from video_similarity.models.registry import EncoderSpec
from video_similarity.pipelines.train_vid_score.params import TrainVideoScoreParams
from video_similarity.training.tasks.vid_score import VideoScoreJob
from video_similarity.vsc.folds import TuningFolds

log = logging.getLogger(__name__)


def _encoder(ensemble_members: dict, config: TrainVideoScoreParams, pretrained_weights: dict) -> tuple[str, dict]:
    """(cache name, job entry) of the frame features the model reads."""
    if config.encoder:
        entry = EncoderSpec.from_params("vid_score_encoder", config.encoder).resolved(pretrained_weights).job_entry()
        members = (ensemble_members or {}).get("members") or {}
        return next((n for n, e in members.items() if e == entry), f"vid_score-{entry['builder']}"), entry
    models, members = (ensemble_members or {}).get("models") or {}, (ensemble_members or {}).get("members") or {}
    frozen = [n for n in members if (models.get(n) or {}).get("frozen")]
    if not members:
        raise ValueError("train_vid_score: the ensemble has no members and train_vid_score.encoder is not set: run train_ensemble first")
    name = (frozen or list(members))[0]
    return name, members[name]


def split_train_val(labels: dict[str, int], fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """A held-out share of each class (at least one of a class with two or more videos)."""
    rng = np.random.default_rng(seed)
    train, val = [], []
    for label in (0, 1):
        ids = sorted(v for v, y in labels.items() if y == label)
        rng.shuffle(ids)
        n_val = min(len(ids) - 1, max(1, round(fraction * len(ids)))) if fraction > 0 and len(ids) > 1 else 0
        val += ids[:n_val]
        train += ids[n_val:]
    return sorted(train), sorted(val)


def train_video_score(
    ensemble_members: dict,
    frame_archives: FrameArchiveStore,
    video_index: pd.DataFrame,
    descriptor_ground_truth: pd.DataFrame,
    tuning_folds: dict,
    pretrained_weights: dict,
    model_dir: Directory,
    embedding_dir: Directory,
    params: dict,
    launch_params: dict,
) -> dict:
    """The model's manifest: its TorchScript file, the encoder it reads, validation AP.

    Without both kinds of training query (with and without a copy) the stage is
    skipped with the reason logged and returned (``{"skipped": ...}``): infer_query then suppresses nothing.
    The queries of the tuning folds' held-out fold are not trained on: the tune
    stage chooses the threshold on their scores.
    """
    config = TrainVideoScoreParams.from_params(params)
    held_out = TuningFolds.from_dict(tuning_folds).held_out()
    all_queries = frame_archives.archives(video_index, config.split, "query")
    queries = {v: p for v, p in all_queries.items() if v not in held_out}
    gt = descriptor_ground_truth[descriptor_ground_truth["split"] == config.split] if len(descriptor_ground_truth) else descriptor_ground_truth
    copied = set(gt["query_id"]) if len(gt) else set()
    labels = {v: int(v in copied) for v in queries}
    positives = sum(labels.values())
    if not queries or positives == 0 or positives == len(labels):
        reason = (f"split {config.split!r} has no query archives" if not queries else
                  f"split {config.split!r} has no ground truth" if positives == 0 else
                  f"every query of split {config.split!r} holds a copy: nothing to tell apart")
        log.warning("train_vid_score skipped: %s", reason)
        return {"skipped": reason}
    name, entry = _encoder(ensemble_members, config, pretrained_weights)
    items = encoder_items(name, entry, queries, embedding_dir.path, launch_params)
    labels = {v: y for v, y in labels.items() if v in items}
    if len(set(labels.values())) < 2:
        reason = f"the {name} features of split {config.split!r} cover {len(labels)} queries, not both kinds (with and without a copy)"
        log.warning("train_vid_score skipped: %s", reason)
        return {"skipped": reason}
    train_ids, val_ids = split_train_val(labels, config.val_fraction, config.seed)
    folder = model_dir.path
    settings = dataclasses.asdict(config) | {"encoder": encoder_stamp(entry)}
    data = {"features": inputs_digest(items), "labels": hashlib.sha256(json.dumps(labels, sort_keys=True).encode()).hexdigest()}
    open_stamped(folder, {"settings": settings, "data": data})
    torchscript, report = folder / "model.pt", folder / "report.json"
    if torchscript.is_file() and report.is_file():
        log.info("The video-score model is already trained (%s)", torchscript)
    else:
        log.info("Video score: %d training queries (%d with a copy), %d held out, features of %s", len(train_ids),
                 sum(labels[v] for v in train_ids), len(val_ids), name)
        job = VideoScoreJob(
            name="vid_score", items=items, labels=labels, train_ids=train_ids, val_ids=val_ids,
            **{k: getattr(config, k) for k in ("max_frames", "width", "depth", "heads", "dropout", "lr", "weight_decay", "warmup", "epochs", "batch_size", "seed")},
            checkpoint=str(folder / "model.ckpt"), torchscript=str(torchscript), report=str(report),
        )
        run_job(job, launch_params, workdir=folder / "jobs")
    result = json.loads(report.read_text())
    scored = {v: s for v, s in result["scores"].items()}
    validation = {"evaluated_on": result["evaluated_on"], "videos": len(scored), "positives": sum(bool(labels.get(v)) for v in scored),
                  "ap": result["val_ap"]}
    log.info("Video score on the %s queries: AP %s", validation["evaluated_on"],
             "undefined (no copies among them)" if validation["ap"] is None else f"{validation['ap']:.3f}")
    return {"encoder": {"name": name, "entry": entry}, "torchscript": str(torchscript), "checkpoint": str(folder / "model.ckpt"),
            "max_frames": config.max_frames, "trained_on": len(train_ids), "held_out_for_tuning": len(all_queries) - len(queries), "validation": validation}
