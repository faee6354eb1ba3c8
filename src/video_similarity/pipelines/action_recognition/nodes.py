"""The action_recognition pipeline: a UCF-style folder (or the embedded demo) -> clip archives -> TVN-1 per protocol fold -> report.

Training runs as torchrun jobs of the one training entry (task
``clip_classifier``); each fold's folder is a stamped folder of the one cache
rule (its settings and a digest of its training archives), so a rerun resumes
a killed training and reuses a finished one.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from video_similarity.action.classifier_jobs import OUTPUTS, classifier_job, job_result, run_classifier_job
from video_similarity.action.clip_archives import USABLE
from video_similarity.action.dataset import decode_clips, prepare_root
from video_similarity.action.splits import Fold, group_split, leave_one_group_out, random_split
from video_similarity.datasets.directory import Directory
from video_similarity.pipelines.action_recognition.params import ActionDataParams, ActionRecognitionParams
from video_similarity.tracking.metrics import as_metrics, figures

log = logging.getLogger(__name__)


# ------------------------------------------------------------------ data


def locate_action_dataset(data_params: dict) -> str:
    """The dataset root (the demo rendered there first)."""
    return prepare_root(ActionDataParams.from_params(data_params))


def decode_action_clips(videos: pd.DataFrame, problems: list[dict], root: str, store: Directory, data_params: dict) -> tuple[pd.DataFrame, dict]:
    """Clip archives of every indexed video: the manifest and the action ingest report."""
    return decode_clips(videos, problems, root, store.path, ActionDataParams.from_params(data_params))


# ------------------------------------------------------------------ training


def protocol_folds(videos: pd.DataFrame, protocols: list[str], test_fraction: float, seed: int) -> list[tuple[str, Fold]]:
    """(protocol, fold) for every configured protocol; leave-one-group-out gives one fold per group."""
    folds = []
    for protocol in protocols:
        if protocol == "random":
            folds.append((protocol, random_split(videos, test_fraction, seed)))
        elif protocol == "group":
            folds.append((protocol, group_split(videos, test_fraction, seed)))
        else:
            folds += [(protocol, fold) for fold in leave_one_group_out(videos)]
    return folds


def train_action_models(manifest: pd.DataFrame, store: Directory, data_params: dict, params: dict, launch_params: dict) -> dict:
    """Train TVN-1 on every fold of every protocol (resuming); {folds: {name: {protocol, checkpoint, predictions, history, ...}}}."""
    data, config = ActionDataParams.from_params(data_params), ActionRecognitionParams.from_params(params)
    videos = manifest[manifest["status"].isin(USABLE)].reset_index(drop=True)
    classes = sorted(videos["class_name"].unique())
    model = {"network": config.network, "num_classes": len(classes), "dropout": config.dropout}
    paths = dict(zip(videos["video_id"], videos["path"]))
    out = {"classes": classes, "num_classes": len(classes), "folds": {}}
    for protocol, fold in protocol_folds(videos, config.protocols, config.test_fraction, config.split_seed):
        job = classifier_job(f"TVN-1 {fold.name}", model, videos, fold.train, fold.test, data.clip_params().sampling,
                             config.classifier_training(), store.path / fold.name)
        log.info("%s: %d training and %d test videos%s", fold.name, len(fold.train), len(fold.test),
                 " (groups on both sides: this split leaks)" if fold.leaks_groups else "")
        run_classifier_job(job, launch_params, stamp_extra=model)
        out["folds"][fold.name] = {"protocol": protocol, "leaks_groups": fold.leaks_groups, "train": len(fold.train), "test": len(fold.test),
                                   **{k: getattr(job, k) for k in OUTPUTS}, "train_paths": [paths[v] for v in fold.train]}
    return out


# ------------------------------------------------------------------ evaluation


def model_cost(checkpoint: str, clip_frames: int, size: int, runs: int, threads: int | None) -> dict:
    """Parameters, multiply-accumulates and CPU latency of one trained TVN-1, at the run's input and the notes'."""
    from video_similarity.models.cost import count_parameters, measure_cpu_latency, multiply_accumulates
    from video_similarity.models.tvn import load_tiny_video_net

    net = load_tiny_video_net(checkpoint)
    shape = (3, clip_frames, size, size)
    latency, used = measure_cpu_latency(net, shape, runs, threads)
    return {"parameters": count_parameters(net), "parameters_body": count_parameters(net.blocks),
            "macs": multiply_accumulates(net, shape), "macs_notes_input": multiply_accumulates(net, (3, 8, 200, 200)),
            "input": "x".join(map(str, shape)), "cpu_ms_per_clip": latency, "threads": used, "runs": runs}


def reversal_notes(classes: list[str]) -> list[str]:
    """On the demo's classes: TVN-1 cannot tell a clip from its reverse, which caps what it can score."""
    from video_similarity.demo.actions import MOTIONS

    if not set(classes) <= set(MOTIONS):
        return []
    kinds = [MOTIONS[c][0] for c in classes]
    pairs = sum(1 for k in set(kinds) if kinds.count(k) == 2)
    if not pairs:
        return []
    return [f"TVN-1's only temporal layer is a max-pool over frame pairs, and every later layer averages over time, so a clip and its "
            f"reverse give the same output (tests/models/test_tvn.py). {pairs} pair(s) of these classes differ only by direction, so "
            f"no TVN-1 can score above {100 * (len(classes) - pairs) / len(classes):.1f} % on a balanced test set of them."]


def evaluate_action_models(manifest: pd.DataFrame, models: dict, ingest_report: dict, data_params: dict, params: dict):
    """Metrics (JSON), the markdown report, the confusion matrices and the training curves of every protocol."""
    from video_similarity.action.metrics import chance_accuracy
    from video_similarity.action.report import confusion_figure, curves_figure, markdown

    data, config = ActionDataParams.from_params(data_params), ActionRecognitionParams.from_params(params)
    videos = manifest[manifest["status"].isin(USABLE)]
    labels = dict(zip(videos["video_id"], videos["label"].astype(int)))
    classes, num_classes = models["classes"], int(models["num_classes"])
    protocols: dict[str, dict] = {}
    confusions: dict[str, np.ndarray] = {}
    histories: dict[str, list[dict]] = {}
    per_fold = {}
    for name, fold in models["folds"].items():
        result = job_result(fold["predictions"], labels, num_classes)
        histories[name] = json.loads(Path(fold["history"]).read_text())
        per_fold[name] = {"protocol": fold["protocol"], "clip_accuracy": result.clip_accuracy, "video_accuracy": result.video_accuracy,
                          "mean_class_accuracy": result.mean_class_accuracy, "clips": result.clips, "videos": result.videos,
                          "leaks_groups": fold["leaks_groups"]}
        p = fold["protocol"]
        confusions[p] = confusions.get(p, 0) + result.confusion
        protocols.setdefault(p, []).append(per_fold[name])
    summary = {}
    for p, rows in protocols.items():  # several folds (leave-one-group-out): the mean over folds, as the published figures
        summary[p] = {k: float(np.mean([r[k] for r in rows])) for k in ("clip_accuracy", "video_accuracy", "mean_class_accuracy")}
        summary[p] |= {"folds": len(rows), "videos": int(sum(r["videos"] for r in rows)), "leaks_groups": any(r["leaks_groups"] for r in rows)}
    sampling = data.clip_params().sampling
    first = next(iter(models["folds"].values()))
    cost = model_cost(first["checkpoint"], sampling.frames, sampling.size, config.latency_runs, config.latency_threads)
    notes = []
    if "random" in summary and "group" in summary:
        gap = summary["random"]["video_accuracy"] - summary["group"]["video_accuracy"]
        notes.append(f"random split minus group-held-out, video top-1: {100 * gap:+.1f} points (the random split has clips of one group on both sides)")
    notes += reversal_notes(classes)
    root = Path(ingest_report["root"])
    metrics = {"network": "TVN-1", "dataset": f"{root.parent.name}/{root.name}", "videos": int(len(videos)),
               "num_classes": num_classes, "classes": classes, "groups": int(videos["group"].nunique()),
               "sampling": f"{sampling.frames} frames every {sampling.stride}, {sampling.size} px, {data.clips} clips per video",
               "chance": chance_accuracy(list(labels.values())), "protocols": summary, "folds": per_fold, "cost": cost, "notes": notes}
    for p, s in summary.items():
        log.info("TVN-1, %s: video top-1 %.3f, clip top-1 %.3f (chance %.3f)", p, s["video_accuracy"], s["clip_accuracy"], metrics["chance"])
    return metrics, markdown(metrics), confusion_figure(confusions, classes), curves_figure(histories)


def track_action_metrics(metrics: dict) -> dict:
    """TVN-1's clip and video top-1 (and mean class accuracy) per protocol as MLflow metrics (action.group.video_accuracy, ...)."""
    return as_metrics(figures(metrics["protocols"], keep={"clip_accuracy", "video_accuracy", "mean_class_accuracy"}))
