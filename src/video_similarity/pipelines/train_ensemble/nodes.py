"""Train every model of the ensemble, one torchrun job each."""

from __future__ import annotations

import hashlib
import json
import logging

import pandas as pd

from video_similarity.datasets.directory import Directory
from video_similarity.datasets.frame_archives import FrameArchiveStore
from video_similarity.launch import LaunchConfig, launch

log = logging.getLogger(__name__)

MODEL_KEYS = ("backbone", "dim", "epochs", "batch_size", "lr", "seed", "weights")


def _model_spec(model: dict, defaults: dict) -> dict:
    unknown = sorted(set(model) - set(MODEL_KEYS) - {"name"})
    if unknown:
        raise ValueError(f"train_ensemble model {model.get('name')!r}: unknown key(s) {unknown}; known: {list(MODEL_KEYS)}")
    return {**{k: defaults[k] for k in MODEL_KEYS if k in defaults}, **model}


def train_ensemble(
    frame_archives: FrameArchiveStore,
    video_index: pd.DataFrame,
    matching_ground_truth: pd.DataFrame,
    pretrained_weights: dict[str, str],
    model_dir: Directory,
    params: dict,
    launch_params: dict,
) -> dict:
    """Train the models listed in ``params.models``; returns the manifest of TorchScript files.

    Each model's files are named by a digest of its settings, so changing a
    setting trains a new model while an interrupted job resumes its checkpoint.
    """
    split = params["split"]
    archives = frame_archives.archives(video_index, split)
    if not archives:
        raise ValueError(f"train_ensemble: no frame archives for split {split!r}; run preprocess first")
    gt = matching_ground_truth[matching_ground_truth["split"] == split]
    ground_truth = gt[["query_id", "ref_id", "query_start", "query_end", "ref_start", "ref_end"]].values.tolist()
    defaults = {k: v for k, v in params.items() if k in MODEL_KEYS}
    manifest = {"image_size": int(params["image_size"]), "models": {}}
    for model in params["models"]:
        settings = _model_spec(model, defaults)
        weights = settings.get("weights")
        if weights and weights not in pretrained_weights:
            raise ValueError(f"model {model['name']}: weights {weights!r} is not in the catalog entry pretrained_weights ({sorted(pretrained_weights)})")
        common = {k: params[k] for k in ("image_size", "tau", "koleo_weight", "weight_decay", "synthetic_pairs")}
        digest = hashlib.sha256(json.dumps({**settings, **common, "split": split}, sort_keys=True).encode()).hexdigest()[:10]
        name = f"{model['name']}-{digest}"
        spec = {
            "name": name,
            **{k: settings[k] for k in MODEL_KEYS if k != "weights"},
            **common,
            "weights_path": pretrained_weights.get(weights) if weights else None,
            "archives": archives,
            "ground_truth": ground_truth,
            "self_pair_videos": list(archives),
            "checkpoint": str(model_dir / f"{name}.ckpt"),
            "torchscript": str(model_dir / f"{name}.pt"),
        }
        if (model_dir / f"{name}.pt").is_file():
            log.info("Model %s is already trained (%s)", name, spec["torchscript"])
        else:
            launch("video_similarity.workers.train", spec, LaunchConfig.from_params(launch_params), workdir=model_dir / "jobs")
        manifest["models"][name] = {"torchscript": spec["torchscript"], "backbone": settings["backbone"], "dim": settings["dim"]}
    return manifest
