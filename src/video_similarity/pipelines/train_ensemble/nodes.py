"""Fold the training split for tuning (before anything trains on it), then train every model of the ensemble, one torchrun job each."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging

import pandas as pd

from video_similarity.cache import file_digest, inputs_digest, open_stamped
from video_similarity.datasets.directory import Directory
from video_similarity.datasets.frame_archives import FrameArchiveStore
from video_similarity.extraction import encoder_items, encoder_stamp
from video_similarity.errors import UserError
from video_similarity.jobs import run_job
from video_similarity.metrics.vsc import ground_truth_pairs
from video_similarity.models.registry import EncoderSpec
from video_similarity.pipelines.infer_ref.params import InferenceParams
from video_similarity.pipelines.train_ensemble.params import TrainEnsembleParams
from video_similarity.pipelines.tune.params import TuningParams
from video_similarity.training.tasks.descriptor import DescriptorJob, Teacher
from video_similarity.vsc.folds import TuningFolds, plan_folds

log = logging.getLogger(__name__)


def _rows(video_index: pd.DataFrame, split: str, role: str) -> pd.DataFrame:
    return video_index[(video_index["split"] == split) & (video_index["role"] == role)]


def plan_tuning_folds(video_index: pd.DataFrame, descriptor_ground_truth: pd.DataFrame, params: dict, inference_params: dict) -> dict:
    """The folds of the tuning split (``tuning_folds``): which videos the tuner scores in which fold, and which
    videos the trained models must not see (the held-out fold). Without ground truth, or in mode fixed, none."""
    config = TuningParams.from_params(params)
    evaluated = InferenceParams.from_params(inference_params).split
    if config.split == evaluated:
        raise UserError(f"tuning.split is {config.split!r}, the evaluated split itself (inference.split): settings must be chosen "
                        "on another split's ground truth")
    if config.mode == "fixed":
        return TuningFolds(config.split, (), config.holdout, "tuning.mode is fixed: the settings are tuning.fixed, nothing is held out").to_dict()
    gt = descriptor_ground_truth[descriptor_ground_truth["split"] == config.split] if len(descriptor_ground_truth) else descriptor_ground_truth
    folds = plan_folds(config.split, _rows(video_index, config.split, "reference")["video_id"].tolist(),
                       _rows(video_index, config.split, "query")["video_id"].tolist(),
                       ground_truth_pairs(gt) if len(gt) else set(), config.folds, config.holdout, config.seed,
                       config.max_queries, config.max_references)
    if folds.usable:
        log.info("Tuning folds of split %r: %s%s", config.split,
                 ", ".join(f"{len(f.references)} refs / {len(f.queries)} queries" for f in folds.folds),
                 "; fold 0 is held out from training" if folds.holdout else "")
    else:
        log.warning("No tuning folds: %s", folds.reason)
    return folds.to_dict()


def _teacher_items(member, frozen: dict[str, dict], pretrained_weights: dict, archives: dict, cache: Directory, launch_params: dict):
    """The teacher's rows of every training archive (the one extraction worker; a frozen member's cache when it is one)."""
    if not member.teacher:
        raise ValueError(f"train_ensemble model {member.name!r}: teacher_weight {member.teacher_weight} needs a teacher (a registry entry)")
    entry = EncoderSpec.from_params("teacher", member.teacher).resolved(pretrained_weights).job_entry()
    name = next((n for n, e in frozen.items() if e == entry), f"teacher-{entry['builder']}")
    return entry, encoder_items(name, entry, archives, cache.path, launch_params)


def train_ensemble(
    frame_archives: FrameArchiveStore,
    video_index: pd.DataFrame,
    matching_ground_truth: pd.DataFrame,
    tuning_folds: dict,
    pretrained_weights: dict[str, str],
    model_dir: Directory,
    embedding_dir: Directory,
    params: dict,
    launch_params: dict,
) -> dict:
    """Train the models listed in ``params.models`` into ``model_dir``; returns the ensemble's members (its manifest).

    Each member has its own folder, stamped (the one cache rule) with its
    settings, its starting weights and its training data: a change trains it
    again, an interrupted job resumes its checkpoint, a finished one is reused.
    The videos of the tuning folds' held-out fold are not trained on: the tune
    stage judges the trained members there.
    """
    config = TrainEnsembleParams.from_params(params)
    members = config.members()
    held_out = TuningFolds.from_dict(tuning_folds).held_out()
    archives = {v: p for v, p in frame_archives.archives(video_index, config.split).items() if v not in held_out}
    if not archives:
        raise ValueError(f"train_ensemble: no frame archives for split {config.split!r}; run preprocess first")
    gt = matching_ground_truth[matching_ground_truth["split"] == config.split]
    gt = gt[~gt["query_id"].isin(held_out) & ~gt["ref_id"].isin(held_out)]
    if held_out:
        log.info("Training on split %r without the %d videos held out for tuning", config.split, len(held_out))
    ground_truth = gt[["query_id", "ref_id", "query_start", "query_end", "ref_start", "ref_end"]].values.tolist()
    data = {"archives": inputs_digest(archives), "ground_truth": hashlib.sha256(json.dumps(ground_truth).encode()).hexdigest()}
    manifest = {"image_size": config.image_size, "members": {}, "models": {}}
    for member in (m for m in members if m.frozen):  # used as they are: nothing to train
        spec = EncoderSpec.from_params(member.name, member.encoder).resolved(pretrained_weights)
        manifest["members"][member.name] = spec.job_entry()
        manifest["models"][member.name] = {"frozen": True, "builder": spec.builder, "weights": spec.weights_label()}
        log.info("Member %s: %s, frozen (%s)", member.name, spec.builder, spec.weights_label())
    for member in (m for m in members if not m.frozen):
        if member.weights and member.weights not in pretrained_weights:
            raise ValueError(f"model {member.name}: weights {member.weights!r} is not in the catalog entry pretrained_weights ({sorted(pretrained_weights)})")
        weights_path = pretrained_weights.get(member.weights) if member.weights else None
        folder = model_dir.path / member.name
        settings = {**{k: v for k, v in dataclasses.asdict(member).items() if k not in ("frozen", "encoder", "teacher", "teacher_weight")},
                    **config.common(), "split": config.split}
        stamp = {"settings": settings, "data": data, "weights_sha256": file_digest(weights_path) if weights_path else None}
        teacher = None
        if member.teacher_weight > 0:
            entry, items = _teacher_items(member, manifest["members"], pretrained_weights, archives, embedding_dir, launch_params)
            teacher = Teacher(items, member.teacher_weight)
            stamp["teacher"] = {"encoder": encoder_stamp(entry), "weight": member.teacher_weight}
        open_stamped(folder, stamp)
        torchscript = folder / "model.pt"
        job = DescriptorJob(
            name=member.name, backbone=member.backbone, dim=member.dim, image_size=config.image_size, weights_path=weights_path,
            epochs=member.epochs, batch_size=member.batch_size, lr=member.lr, weight_decay=config.weight_decay, tau=config.tau,
            koleo_weight=config.koleo_weight, seed=member.seed, archives=archives, ground_truth=ground_truth,
            self_pair_videos=list(archives), synthetic_pairs=config.synthetic_pairs, teacher=teacher,
            checkpoint=str(folder / "model.ckpt"), torchscript=str(torchscript),
        )
        if torchscript.is_file():
            log.info("Model %s is already trained (%s)", member.name, torchscript)
        else:
            run_job(job, launch_params, workdir=folder / "jobs")
        manifest["models"][member.name] = {"torchscript": str(torchscript), "backbone": member.backbone, "dim": member.dim}
        # inference reads the export through the registry, like any TorchScript file
        export = {"builder": "torchscript", "weights_path": str(torchscript),
                  "options": {"input": {"input_size": config.image_size, "normalized_output": True}}}
        manifest["members"][member.name] = EncoderSpec.from_params(member.name, export).job_entry()
    return manifest
