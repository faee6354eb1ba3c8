"""fivr_retrieval nodes: dataset -> frames -> encoder zoo features -> similarities -> FIVR / CC_WEB mAP.

GPU-heavy steps (whitening sample, feature extraction, video-encoder training)
run as torchrun jobs through ``launch``; the nodes write job specs and return
manifests naming the files the jobs wrote.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from video_similarity.datasets.directory import Directory
from video_similarity.datasets.frame_archives import FrameArchiveStore
from video_similarity.launch import LaunchConfig, launch
from video_similarity.models.encoders import EncoderConfig, parse_encoders
from video_similarity.retrieval.features import failures, load_features, reset_if_changed

log = logging.getLogger(__name__)


# ------------------------------------------------------------------ dataset


def locate_retrieval_dataset(retrieval: dict) -> str:
    """The dataset root; for source ``demo``, render the FIVR-shaped demo there first."""
    source, root = retrieval.get("source", "directory"), retrieval.get("root")
    if source not in ("demo", "directory"):
        raise ValueError(f"retrieval.source must be 'demo' or 'directory', got {source!r}")
    if not root:
        raise ValueError("retrieval.root is not set; for FIVR run with --env=fivr --params=fivr_root=/path/to/videos")
    if source == "demo":
        from video_similarity.demo.fivr import FivrDemoConfig, plan_fivr_demo, write_fivr_demo

        write_fivr_demo(plan_fivr_demo(FivrDemoConfig.from_params(retrieval.get("demo"))), root, workers=retrieval.get("workers"))
    return str(Path(root))


def index_retrieval_videos(root: str, retrieval: dict) -> tuple[pd.DataFrame, dict, dict]:
    """Video index (found videos), ground truth (annotation and lists) and the ingest report."""
    from video_similarity.retrieval.layout import index_retrieval_dataset

    return index_retrieval_dataset(root, retrieval)


# ------------------------------------------------------------------ features


def _usable_videos(video_index: pd.DataFrame, store: FrameArchiveStore, splits: tuple[str, ...]) -> dict[str, dict]:
    usable = set(store.ids())
    rows = video_index[video_index["split"].isin(splits)]
    return {v: {"archive": str(store.path(v)), "video": p} for v, p in zip(rows["video_id"], rows["path"]) if v in usable}


def _job_entry(config: EncoderConfig, weights: dict[str, str], whitening: dict | None) -> dict:
    if config.weights and config.weights not in weights:
        raise ValueError(f"encoder {config.name}: weights {config.weights!r} is not in the catalog entry pretrained_weights ({sorted(weights)})")
    entry = {"builder": config.builder, "weights_path": weights.get(config.weights) if config.weights else None, "seed": config.seed, "options": config.options}
    if config.whitening:
        entry["whitening_path"] = (whitening or {}).get(config.name)
    return entry


def _settings(entry: dict, preprocess: dict) -> dict:
    """What an encoder's features depend on (a change recomputes them)."""
    stamp = dict(entry)
    for key in ("weights_path", "whitening_path"):
        path = stamp.get(key)
        stamp[key] = {"path": path, "mtime_ns": Path(path).stat().st_mtime_ns} if path else None
    stamp["frames"] = {"fps": preprocess.get("fps", 1.0), "short_side": preprocess.get("short_side")}
    return stamp


def fit_whitening(
    video_index: pd.DataFrame, store: FrameArchiveStore, retrieval: dict, preprocess: dict, launch_params: dict,
    pretrained_weights: dict[str, str], folder: Directory,
) -> dict:
    """PCA whitening for every encoder with ``whitening:``, fitted on database frames; {encoder: npz path}."""
    from video_similarity.models.frame_encoders import fit_whitening as fit

    configs = [c for c in parse_encoders(retrieval.get("encoders")) if c.whitening]
    fitted = {}
    for config in configs:
        fit_on = str(config.whitening.get("fit_on", "database"))
        rows = video_index[video_index["role"] == fit_on] if fit_on != "all" else video_index
        videos = _usable_videos(rows, store, ("eval", "train"))
        entry = _job_entry(config, pretrained_weights, None)
        settings = {"encoder": _settings(entry, preprocess), "whitening": config.whitening, "videos": sorted(videos)}
        target = folder.path / f"{config.name}.npz"
        stamp = folder.path / f"{config.name}.settings.json"
        if target.is_file() and stamp.is_file() and json.loads(stamp.read_text()) == json.loads(json.dumps(settings, default=str)):
            log.info("Whitening of %s is current (%s)", config.name, target)
            fitted[config.name] = str(target)
            continue
        if not videos:
            raise ValueError(f"encoder {config.name}: no {fit_on} videos with frames to fit whitening on")
        sample_dir = folder.path / f"{config.name}_sample"
        shutil.rmtree(sample_dir, ignore_errors=True)
        spec = {
            "encoders": {config.name: entry}, "videos": videos,
            "whitening_sample": {config.name: {"max_frames": int(config.whitening.get("max_frames", 5000)), "output_dir": str(sample_dir)}},
        }
        launch("video_similarity.workers.encode", spec, LaunchConfig.from_params(launch_params), workdir=folder.path / "jobs")
        vectors = np.concatenate([np.load(p) for p in sorted(sample_dir.glob("rank*.npy"))])
        log.info("Fitting %s whitening on %d vectors of %d %s videos", config.name, len(vectors), len(videos), fit_on)
        fit(vectors, config.whitening.get("dims")).save(target)
        stamp.write_text(json.dumps(settings, default=str))
        shutil.rmtree(sample_dir, ignore_errors=True)
        fitted[config.name] = str(target)
    return fitted


def extract_features(
    video_index: pd.DataFrame, store: FrameArchiveStore, retrieval: dict, preprocess: dict, launch_params: dict,
    pretrained_weights: dict[str, str], whitening: Directory, features: Directory,
) -> dict:
    """Every encoder over the evaluated videos in one torchrun job; the base encoder over the training videos in a second."""
    configs = parse_encoders(retrieval.get("encoders"))
    if not configs:
        raise ValueError("retrieval.encoders is empty: name at least one encoder")
    video_encoder = retrieval.get("video_encoder") or {}
    train_base = video_encoder.get("base_encoder") if video_encoder.get("enabled", False) else None
    entries, manifest = {}, {}
    for config in configs:
        entry = _job_entry(config, pretrained_weights, whitening.manifest or {})
        if config.whitening and not entry.get("whitening_path"):
            raise ValueError(f"encoder {config.name}: its whitening was not fitted")
        reset_if_changed(features.path / config.name, _settings(entry, preprocess))
        entries[config.name] = entry
        manifest[config.name] = {
            "folder": str(features.path / config.name), "builder": config.builder,
            "weights": "n/a (perceptual hash)" if config.builder == "pdq" else config.weights or f"none (random init, seed {config.seed})",
            "whitened": bool(config.whitening), "options": config.options,
        }
    eval_videos = _usable_videos(video_index, store, ("eval",))
    spec = {"encoders": entries, "videos": eval_videos, "output_dir": str(features.path), "batch_size": int(retrieval.get("batch_size", 16))}
    config = LaunchConfig.from_params(launch_params)
    launch("video_similarity.workers.encode", spec, config, workdir=features.path / "jobs")
    if train_base:
        if train_base not in entries:
            raise ValueError(f"retrieval.video_encoder.base_encoder {train_base!r} is not among retrieval.encoders")
        train_videos = _usable_videos(video_index, store, ("train",))
        if train_videos:
            spec = {**spec, "encoders": {train_base: entries[train_base]}, "videos": train_videos}
            launch("video_similarity.workers.encode", spec, config, workdir=features.path / "jobs")
    for name, entry in manifest.items():
        entry["failed"] = failures(Path(entry["folder"]))
    return manifest


def train_video_encoder(
    video_index: pd.DataFrame, feature_dir: Directory, ground_truth: dict, retrieval: dict, launch_params: dict, folder: Directory,
) -> dict:
    """Train the transformer video encoder (notes' Model #2) on frame features of the training videos."""
    params = dict(retrieval.get("video_encoder") or {})
    features = feature_dir.manifest or {}
    if not params.get("enabled", False):
        return {"enabled": False}
    base = params["base_encoder"]
    train_ids = video_index.loc[video_index["split"] == "train", "video_id"].tolist()
    source = "training videos"
    if not train_ids:  # no training split (e.g. FIVR alone): self-supervised on the database
        train_ids = video_index.loc[video_index["role"] == "database", "video_id"].tolist()
        source = "database videos (no training split given; self-supervised, transductive)"
    feats, _ = load_features(features[base]["folder"], train_ids)
    labels = tuple(params.get("positive_labels", ("ND", "DS")))
    pairs = [
        [q, v]
        for q, by_label in (ground_truth.get("train_annotation") or {}).items()
        for label in labels
        for v in by_label.get(label, [])
        if q in feats and v in feats and v != q
    ]
    settings = {k: v for k, v in params.items() if k != "enabled"}
    checkpoint = folder.path / "video_transformer.pt"
    stamp = folder.path / "video_transformer.settings.json"
    wanted = {"settings": settings, "videos": sorted(feats), "pairs": len(pairs), "base": features[base].get("weights")}
    if stamp.is_file() and json.loads(stamp.read_text()) != json.loads(json.dumps(wanted, default=str)):
        checkpoint.unlink(missing_ok=True)
        (folder.path / "video_transformer.last.pt").unlink(missing_ok=True)
    stamp.write_text(json.dumps(wanted, default=str))
    if not feats:
        raise ValueError(f"no {base} features of training videos to train the video encoder on")
    spec = {
        "features": {v: str(Path(features[base]["folder"]) / f"{v}.npy") for v in feats},
        "pairs": pairs, "checkpoint": str(checkpoint), **settings,
    }
    log.info("Training the video encoder on %d %s (%d annotated positive pairs)", len(feats), source, len(pairs))
    launch("video_similarity.workers.train_video_encoder", spec, LaunchConfig.from_params(launch_params), workdir=folder.path / "jobs")
    return {"enabled": True, "checkpoint": str(checkpoint), "base_encoder": base, "trained_on": source,
            "n_videos": len(feats), "n_pairs": len(pairs), "settings": settings}


def encode_with_video_encoder(video_index: pd.DataFrame, feature_dir: Directory, encoder_dir: Directory) -> dict:
    """Per-frame outputs of the trained video encoder for the evaluated videos (cheap: runs in-process)."""
    features, video_encoder = feature_dir.manifest or {}, encoder_dir.manifest or {}
    if not video_encoder.get("enabled"):
        return dict(features)
    from video_similarity.models.video_transformer import encode_video, load_video_transformer

    model = load_video_transformer(video_encoder["checkpoint"])
    base = features[video_encoder["base_encoder"]]
    name = str(video_encoder["settings"].get("name", "video_transformer"))
    out = feature_dir.path / name
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    eval_ids = video_index.loc[video_index["split"] == "eval", "video_id"].tolist()
    frames, _ = load_features(base["folder"], eval_ids)
    for video_id, x in frames.items():
        target = out / f"{video_id}.npy"
        target.parent.mkdir(parents=True, exist_ok=True)
        np.save(target, encode_video(model, x).astype(np.float32))
    manifest = dict(features)
    manifest[name] = {
        "folder": str(out), "builder": f"video_transformer over {video_encoder['base_encoder']}",
        "weights": f"trained here on {video_encoder['n_videos']} {video_encoder['trained_on']}",
        "whitened": False, "options": {}, "failed": {},
    }
    return manifest


# ------------------------------------------------------------------ similarity and evaluation


def compute_similarities(video_index: pd.DataFrame, features: dict, retrieval: dict, folder: Directory) -> dict:
    """Every encoder x similarity as ``{query: {video: score}}`` JSON (the evaluator CLIs' input)."""
    from video_similarity.metrics.similarity import similarity_matrix, to_json_ready

    params = retrieval.get("similarity") or {}
    methods = list(params.get("methods", ("video_level", "chamfer", "symmetric_chamfer", "topk_chamfer")))
    eval_rows = video_index[video_index["split"] == "eval"]
    query_ids = eval_rows.loc[eval_rows["role"] == "query", "video_id"].tolist()
    target_ids = eval_rows["video_id"].tolist()  # database and queries: all_db holds both
    manifest = {}
    for encoder, info in features.items():
        targets, absent = load_features(info["folder"], target_ids)
        queries = {q: targets[q] for q in query_ids if q in targets}
        for method in methods:
            scores = similarity_matrix(queries, targets, method, k=int(params.get("topk", 3)), chunk_frames=int(params.get("chunk_frames", 200_000)))
            path = folder.path / f"{encoder}__{method}.json"
            path.write_text(json.dumps(to_json_ready(scores)))
            manifest[f"{encoder}__{method}"] = {"encoder": encoder, "similarity": method, "path": str(path), "videos_without_features": absent}
        log.info("%s: similarities of %d queries x %d videos (%d without features)", encoder, len(queries), len(targets), len(absent))
    return manifest


def evaluate_retrieval(similarities: Directory, ground_truth: dict, features: dict, ingest_report: dict, retrieval: dict) -> tuple[dict, str]:
    """mAP of every encoder x similarity by the benchmark's rules, as JSON and a markdown table."""
    from video_similarity.retrieval.report import FIVR_ANCHORS, NOTES_ANCHORS, frame_vs_video, metric_columns, results_markdown

    benchmark = ground_truth["benchmark"]
    all_db = str(retrieval.get("all_db", "all"))
    if all_db not in ("all", "available"):
        raise ValueError(f"retrieval.all_db must be 'all' or 'available', got {all_db!r}")
    rows = []
    for entry in (similarities.manifest or {}).values():
        scores = json.loads(Path(entry["path"]).read_text())
        if benchmark == "fivr":
            from video_similarity.metrics.fivr import evaluate_fivr

            available = None
            if all_db == "available":
                everything = set(ground_truth["queries"]) | set(ground_truth["database"])
                available = everything - set(entry["videos_without_features"]) - set(_missing(ingest_report))
            metrics = evaluate_fivr(scores, ground_truth["annotation"], ground_truth["queries"], ground_truth["database"], available=available)
        else:
            from video_similarity.metrics.cc_web import evaluate_cc_web, load_ground_truth

            metrics = evaluate_cc_web(scores, load_ground_truth(ground_truth["ground_truth_file"]))
        info = features[entry["encoder"]]
        rows.append({
            "encoder": entry["encoder"], "weights": info["weights"], "options": info.get("options") or {}, "similarity": entry["similarity"],
            **{c: None if metrics[c] is None else float(metrics[c]) for c in metric_columns(benchmark)},
            "n_queries": metrics.get("n_queries"), "similarities_file": entry["path"],
        })
    counts = ingest_report["counts"]
    missing = sum(counts["missing"][r] for r in ("query", "database"))
    listed = len(set(ground_truth["queries"]) | set(ground_truth["database"]))  # FIVR-5K: a query is in the database too
    # found but without features: failed to decode (preprocess report) or to encode (feature manifest)
    failed = sorted({v for entry in (similarities.manifest or {}).values() for v in entry["videos_without_features"]})
    notes = [
        f"benchmark {benchmark}; {ingest_report['lists']}",
        f"videos missing from the folder: {missing} of {listed} listed"
        + (f" (e.g. {', '.join((ingest_report['missing_videos']['query'] + ingest_report['missing_videos']['database'])[:5])})" if missing else ""),
        f"videos found but without features (failed to decode or encode, see the preprocess report and feature manifest): {len(failed)}"
        + (f" ({', '.join(failed[:5])})" if failed else ""),
    ]
    if benchmark == "fivr":
        notes.append(
            "all_db convention: " + ("'all' (database + queries of the subset; missing videos count as misses)" if all_db == "all"
                                     else "'available only' (all_db restricted to videos that were decoded, as ViSiL does)")
        )
    notes.append("weights 'none (random init ...)' means no local checkpoint was configured: figures show the pipeline, not the published model")
    results = {
        "benchmark": benchmark,
        "title": f"{benchmark.upper()} ({ground_truth.get('subset', 'all')})",
        "all_db": all_db if benchmark == "fivr" else None,
        "missing_videos": missing,
        "failed_videos": failed,
        "notes": notes,
        "rows": rows,
        "frame_vs_video": frame_vs_video(rows, "DSVR" if benchmark == "fivr" else "cc_web"),
        "anchors": FIVR_ANCHORS + NOTES_ANCHORS if benchmark == "fivr" else [],
    }
    for encoder, gap in results["frame_vs_video"].items():
        log.info("%s: frame-level %s %.4f vs video-level %.4f (%+.4f)", encoder, gap["frame_method"], gap["frame_level"], gap["video_level"], gap["gain"])
    return results, results_markdown(results)


def _missing(ingest_report: dict) -> list[str]:
    missing = ingest_report.get("missing_videos", {})
    return list(missing.get("query", [])) + list(missing.get("database", []))
