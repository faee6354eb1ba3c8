"""retrieval nodes: dataset -> frames -> encoder zoo features -> similarities -> FIVR / CC_WEB mAP.

GPU-heavy steps (whitening sample, feature extraction, video-encoder training)
run as torchrun jobs (typed jobs, ``jobs.run_job``); the nodes return
manifests naming the files the jobs wrote.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pandas as pd

from video_similarity.datasets.directory import Directory
from video_similarity.datasets.frame_archives import FrameArchiveStore
from video_similarity.atomic import atomic_write
from video_similarity.cache import STAMP, inputs_digest, open_stamped
from video_similarity.extraction import encoder_stamp, extract, failures, region_sample
from video_similarity.frames.preprocess import preprocess_videos
from video_similarity.jobs import run_job
from video_similarity.models.registry import EncoderSpec, parse_encoders
from video_similarity.pipelines.retrieval.params import RetrievalParams, WhiteningParams
from video_similarity.pipelines.preprocess.params import PreprocessParams
from video_similarity.retrieval.features import iter_features, load_features
from video_similarity.tracking.metrics import as_metrics, figures
from video_similarity.training.tasks.video_transformer import VideoTransformerJob

log = logging.getLogger(__name__)


# ------------------------------------------------------------------ dataset


def locate_retrieval_dataset(retrieval: dict) -> str:
    """The dataset root; for source ``demo``, render the FIVR-shaped demo there first."""
    config = RetrievalParams.from_params(retrieval)  # the first node: a typo in params:retrieval stops the run here
    source, root = config.source, config.root
    if source not in ("demo", "directory"):
        raise ValueError(f"retrieval.source must be 'demo' or 'directory', got {source!r}")
    if not root:
        raise ValueError("retrieval.root is not set; for FIVR run with --env=fivr --params=fivr_root=/path/to/videos")
    if source == "demo":
        from video_similarity.demo.fivr import plan_fivr_demo, write_fivr_demo

        write_fivr_demo(plan_fivr_demo(config.demo), root, workers=config.workers)
    return str(Path(root))


def index_retrieval_videos(root: str, retrieval: dict) -> tuple[pd.DataFrame, dict, dict]:
    """Video index (found videos), ground truth (annotation and lists) and the ingest report."""
    from video_similarity.retrieval.layout import index_retrieval_dataset

    return index_retrieval_dataset(root, RetrievalParams.from_params(retrieval))


# ------------------------------------------------------------------ features


def decode_retrieval_videos(video_index: pd.DataFrame, store: FrameArchiveStore, preprocess: dict) -> tuple[pd.DataFrame, dict]:
    """Frame archives of every found video, with ``params:preprocess`` (the VSC track's settings); the manifest and the report."""
    config = PreprocessParams.from_params(preprocess)
    return preprocess_videos(video_index, store.root, config.archive_settings(), workers=config.workers, only_missing=config.only_missing)


def _usable_videos(video_index: pd.DataFrame, store: FrameArchiveStore, splits: tuple[str, ...]) -> dict[str, dict]:
    usable = set(store.ids())
    rows = video_index[video_index["split"].isin(splits)]
    return {v: {"archive": str(store.path(v)), "video": p} for v, p in zip(rows["video_id"], rows["path"]) if v in usable}


def fit_whitening(
    video_index: pd.DataFrame, store: FrameArchiveStore, retrieval: dict, launch_params: dict,
    pretrained_weights: dict[str, str], folder: Directory,
) -> dict:
    """PCA whitening for every encoder with ``whitening:``, fitted on database frames; {encoder: npz path}."""
    from video_similarity.models.frame_encoders import fit_whitening as fit

    fitted = {}
    for config in (c for c in parse_encoders(retrieval.get("encoders")) if c.whitening):
        whitening = WhiteningParams.from_params(config.whitening, f"retrieval.encoders.{config.name}.whitening")
        fit_on = whitening.fit_on
        rows = video_index[video_index["role"] == fit_on] if fit_on != "all" else video_index
        videos = _usable_videos(rows, store, ("eval", "train"))
        if not videos:
            raise ValueError(f"encoder {config.name}: no {fit_on} videos with frames to fit whitening on")
        entry = config.resolved(pretrained_weights).job_entry()
        target_dir = folder.path / config.name
        target = target_dir / "whitening.npz"
        stamp = {"encoder": encoder_stamp(entry), "whitening": config.whitening, "videos": inputs_digest({v: info["archive"] for v, info in videos.items()})}
        if open_stamped(target_dir, stamp) and target.is_file():
            log.info("Whitening of %s is current (%s)", config.name, target)
            fitted[config.name] = str(target)
            continue
        sample_dir = target_dir / "sample"
        vectors = region_sample(entry, videos, whitening.max_frames, sample_dir, launch_params, target_dir / "jobs")
        log.info("Fitting %s whitening on %d vectors of %d %s videos", config.name, len(vectors), len(videos), fit_on)
        fit(vectors, whitening.dims).save(target)
        shutil.rmtree(sample_dir, ignore_errors=True)
        fitted[config.name] = str(target)
    return fitted


def extract_features(
    video_index: pd.DataFrame, store: FrameArchiveStore, retrieval: dict, launch_params: dict,
    pretrained_weights: dict[str, str], whitening: dict, features: Directory,
) -> dict:
    """Every encoder over the evaluated videos in one torchrun job; the base encoder over the training videos in a second."""
    configs = parse_encoders(retrieval.get("encoders"))
    if not configs:
        raise ValueError("retrieval.encoders is empty: name at least one encoder")
    settings = RetrievalParams.from_params(retrieval)
    video_encoder = settings.video_encoder
    train_base = video_encoder.base_encoder if video_encoder.enabled else None
    fitted = whitening or {}
    entries, manifest = {}, {}
    for config in configs:
        if config.whitening and not fitted.get(config.name):
            raise ValueError(f"encoder {config.name}: its whitening was not fitted")
        entries[config.name] = config.resolved(pretrained_weights).job_entry(fitted.get(config.name) if config.whitening else None)
        manifest[config.name] = {
            "folder": str(features.path / config.name), "builder": config.builder,
            "weights": config.weights_label(),
            "whitened": bool(config.whitening), "options": config.options,
        }
    batch_size = settings.batch_size
    extract(entries, _usable_videos(video_index, store, ("eval",)), features.path, launch_params, batch_size)
    failed = {name: failures(features.path / name) for name in entries}
    if train_base:
        if train_base not in entries:
            raise ValueError(f"retrieval.video_encoder.base_encoder {train_base!r} is not among retrieval.encoders")
        train_videos = _usable_videos(video_index, store, ("train",))
        if train_videos:
            extract({train_base: entries[train_base]}, train_videos, features.path, launch_params, batch_size)
            failed[train_base].update(failures(features.path / train_base))
    for name, entry in manifest.items():
        entry["failed"] = failed[name]
    return manifest


def train_video_encoder(
    video_index: pd.DataFrame, features: dict, ground_truth: dict, retrieval: dict, launch_params: dict, folder: Directory,
) -> dict:
    """Train the transformer video encoder (notes' Model #2) on frame features of the training videos."""
    params = RetrievalParams.from_params(retrieval).video_encoder
    if not params.enabled:
        return {"enabled": False}
    base = params.base_encoder
    train_ids = video_index.loc[video_index["split"] == "train", "video_id"].tolist()
    source = "training videos"
    if not train_ids:  # no training split (e.g. FIVR alone): self-supervised on the database
        train_ids = video_index.loc[video_index["role"] == "database", "video_id"].tolist()
        source = "database videos (no training split given; self-supervised, transductive)"
    base_folder = Path(features[base]["folder"])
    feats, _ = load_features(base_folder, train_ids)
    if not feats:
        raise ValueError(f"no {base} features of training videos to train the video encoder on")
    pairs = [
        [q, v]
        for q, by_label in (ground_truth.get("train_annotation") or {}).items()
        for label in params.positive_labels
        for v in by_label.get(label, [])
        if q in feats and v in feats and v != q
    ]
    items = {v: str(base_folder / f"{v}.npz") for v in feats}
    stamp = {"settings": params.training_settings(), "base": json.loads((base_folder / STAMP).read_text()),
             "inputs": inputs_digest(items), "pairs": pairs}
    open_stamped(folder.path, stamp)
    checkpoint = folder.path / "video_transformer.ckpt"
    job = VideoTransformerJob(features=items, pairs=pairs, checkpoint=str(checkpoint), **params.training_settings())
    log.info("Training the video encoder on %d %s (%d annotated positive pairs)", len(feats), source, len(pairs))
    run_job(job, launch_params, workdir=folder.path / "jobs")
    return {"enabled": True, "checkpoint": str(checkpoint), "base_encoder": base, "trained_on": source,
            "n_videos": len(feats), "n_pairs": len(pairs), "settings": params.training_settings(), "name": params.name}


def encode_with_video_encoder(
    video_index: pd.DataFrame, features: dict, video_encoder: dict, output: Directory, retrieval: dict, launch_params: dict,
) -> dict:
    """Per-frame outputs of the trained video encoder for the evaluated videos, through the one extraction worker."""
    if not video_encoder.get("enabled"):
        return dict(features)
    base = features[video_encoder["base_encoder"]]
    name = video_encoder["name"]
    spec = EncoderSpec.from_params(name, {"builder": "video_transformer", "weights_path": video_encoder["checkpoint"]})
    entry = {**spec.job_entry(), "input_features": base["folder"]}
    eval_ids = video_index.loc[video_index["split"] == "eval", "video_id"].tolist()
    available, _ = load_features(base["folder"], eval_ids)
    videos = {v: {"archive": None, "video": None} for v in eval_ids if v in available}
    extract({name: entry}, videos, output.path, launch_params, RetrievalParams.from_params(retrieval).batch_size)
    manifest = dict(features)
    manifest[name] = {
        "folder": str(output.path / name), "builder": f"video_transformer over {video_encoder['base_encoder']}",
        "weights": f"trained here on {video_encoder['n_videos']} {video_encoder['trained_on']}",
        "whitened": False, "options": {}, "failed": failures(output.path / name),
    }
    return manifest


# ------------------------------------------------------------------ similarity and evaluation


def _evaluated(video_index: pd.DataFrame) -> tuple[list[str], list[str]]:
    """The eval split's query ids and target ids (database and queries: all_db holds both)."""
    eval_rows = video_index[video_index["split"] == "eval"]
    return eval_rows.loc[eval_rows["role"] == "query", "video_id"].tolist(), eval_rows["video_id"].tolist()


def pack_database_shards(video_index: pd.DataFrame, features: dict, retrieval: dict, store: Directory) -> dict:
    """Each encoder's evaluated videos' frame features as memory-mapped shards (``rerank_storage``), the re-ranking's database.

    A stamped folder per encoder: remade when a feature item or the storage changes, else reused.
    """
    from video_similarity.cache import item_path
    from video_similarity.retrieval.shards import FORMAT, META, write_shards

    params = RetrievalParams.from_params(retrieval).similarity
    if params.rerank_fraction is None:
        return {}
    _, target_ids = _evaluated(video_index)
    manifest = {}
    for encoder, info in features.items():
        folder = store.path / encoder
        items = {v: item_path(info["folder"], v) for v in target_ids if item_path(info["folder"], v).is_file()}
        if not open_stamped(folder, {"format": FORMAT, "storage": params.rerank_storage, "items": inputs_digest(items)}) or not (folder / META).is_file():
            absent: list[str] = []
            meta = write_shards(folder, iter_features(info["folder"], target_ids, absent), params.rerank_storage)
            log.info("%s: %d videos (%d frames) stored as %s shards", encoder, meta["videos"], meta["rows"], params.rerank_storage)
        manifest[encoder] = {"folder": str(folder), **json.loads((folder / META).read_text())}
    return manifest


def compute_similarities(video_index: pd.DataFrame, features: dict, shards: dict, retrieval: dict, folder: Directory) -> dict:
    """Every encoder x similarity as ``{query: {video: score}}`` JSON (the evaluator CLIs' input), exhaustive and re-ranked."""
    from video_similarity.metrics.similarity import similarity_matrix, to_json_ready
    from video_similarity.retrieval.rerank import prefilter_rerank, rerank_count
    from video_similarity.retrieval.shards import FrameShards

    params = RetrievalParams.from_params(retrieval).similarity
    query_ids, target_ids = _evaluated(video_index)
    manifest = {}

    def save(encoder: str, similarity: str, scores: dict, absent: list[str], **extra) -> None:
        path = folder.path / f"{encoder}__{similarity.replace(' ', '_')}.json"
        text = json.dumps(to_json_ready(scores)).encode()
        atomic_write(path, lambda handle: handle.write(text))
        manifest[f"{encoder}__{similarity}"] = {"encoder": encoder, "similarity": similarity, "path": str(path), "videos_without_features": absent,
                                                **extra}

    for encoder, info in features.items():
        if params.methods:  # exhaustive: every query x every target (the queries among them)
            targets, absent = load_features(info["folder"], target_ids)
            queries = {q: targets[q] for q in query_ids if q in targets}
            for method in params.methods:
                save(encoder, method, similarity_matrix(queries, targets, method, k=params.topk, chunk_frames=params.chunk_frames), absent)
            log.info("%s: similarities of %d queries x %d videos (%d without features)", encoder, len(queries), len(targets), len(absent))
        else:
            queries, _ = load_features(info["folder"], query_ids)
        if encoder in shards:
            database = FrameShards.open(shards[encoder]["folder"])
            absent = sorted(set(target_ids) - set(database.video_ids))
            count = rerank_count(len(database), params.rerank_fraction, params.rerank_top_n)
            for method in params.rerank_methods:
                scores = prefilter_rerank(queries, database, method, params.topk, params.rerank_fraction, params.rerank_top_n)
                save(encoder, f"{method} re-ranked", scores, absent,
                     rerank={"fraction": params.rerank_fraction, "top_n": params.rerank_top_n, "videos": count, "database": len(database),
                             "storage": params.rerank_storage})
    return manifest


def rerank_tradeoff(video_index: pd.DataFrame, features: dict, shards: dict, ground_truth: dict, ingest_report: dict, retrieval: dict):
    """mAP against the re-ranked fraction (DnS's trade-off curve) of each encoder's first re-ranked method: the figures and their plot."""
    from video_similarity.retrieval.evaluation import benchmark_metrics
    from video_similarity.retrieval.rerank import rerank_count, reranked
    from video_similarity.retrieval.report import metric_columns, tradeoff_figure
    from video_similarity.retrieval.shards import FrameShards

    config = RetrievalParams.from_params(retrieval)
    params, columns = config.similarity, metric_columns(ground_truth["benchmark"])
    if not shards or not params.rerank_methods:
        return {"curves": {}}, tradeoff_figure({}, columns)
    query_ids, target_ids = _evaluated(video_index)
    method = params.rerank_methods[0]
    curves = {}
    for encoder, entry in shards.items():
        queries, _ = load_features(features[encoder]["folder"], query_ids)
        database = FrameShards.open(entry["folder"])
        absent = sorted(set(target_ids) - set(database.video_ids))
        fractions = sorted(set(params.rerank_curve))
        counts = [rerank_count(len(database), fraction, None) for fraction in fractions]
        points = []
        for fraction, count, scores in zip(fractions, counts, reranked(queries, database, method, params.topk, counts, progress=False)):
            metrics = benchmark_metrics(scores, ground_truth, ingest_report, config.all_db, absent)
            points.append({"fraction": fraction, "videos": count, **{c: None if metrics[c] is None else float(metrics[c]) for c in columns}})
        curves[encoder] = {"method": method, "points": points}
    return {"curves": curves, "database": len(target_ids)}, tradeoff_figure(curves, columns)


def evaluate_retrieval(similarities: dict, ground_truth: dict, features: dict, ingest_report: dict, retrieval: dict) -> tuple[dict, str]:
    """mAP of every encoder x similarity by the benchmark's rules, as JSON and a markdown table."""
    from video_similarity.retrieval.evaluation import score_similarities
    from video_similarity.retrieval.report import results_markdown

    results = score_similarities(similarities, ground_truth, features, ingest_report, RetrievalParams.from_params(retrieval).all_db)
    for encoder, gap in results["frame_vs_video"].items():
        log.info("%s: frame-level %s %.4f vs video-level %.4f (%+.4f)", encoder, gap["frame_method"], gap["frame_level"], gap["video_level"], gap["gain"])
    return results, results_markdown(results)


def track_retrieval_metrics(results: dict) -> dict:
    """Every encoder x similarity's benchmark mAPs as MLflow metrics (retrieval.resnet50_rmac.chamfer.DSVR, ...cc_web_star_c)."""
    from video_similarity.metrics.cc_web import VARIANTS
    from video_similarity.metrics.fivr import TASKS

    rows = {f"{row['encoder']}.{row['similarity']}": {k: v for k, v in row.items() if k in TASKS or k in VARIANTS} for row in results["rows"]}
    return as_metrics(figures(rows))
