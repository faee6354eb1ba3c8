"""The severe pipeline: video encoders of the registry, evaluated downstream as SEVERE does.

Per dataset (the action demo in two rendering domains, or any UCF-style
roots), the same clip archives as action_recognition; per encoder, features of
every video through the one extraction worker (cached by the one rule); then
per setting (domain, class subset, sample size) a linear probe on a
group-held-out split, and optionally end-to-end fine-tuning (the one training
entry). The report is a table of encoders x settings, each encoder's rank per
setting, and accuracy against sample size.
"""

from __future__ import annotations

import logging

import pandas as pd

from video_similarity.action.classifier_jobs import classifier_job, job_result, run_classifier_job
from video_similarity.action.clip_archives import USABLE
from video_similarity.action.dataset import decode_clips, index_action_videos, prepare_root
from video_similarity.action.metrics import chance_accuracy
from video_similarity.action.sampling import ClipSampling
from video_similarity.action.severe import class_count, probe_top1, setting_split, video_features
from video_similarity.datasets.directory import Directory
from video_similarity.extraction import encoder_stamp, extract, failures
from video_similarity.models.registry import EncoderSpec, declared_option
from video_similarity.pipelines.action_recognition.params import ActionDataParams
from video_similarity.pipelines.severe.params import Setting, SevereParams
from video_similarity.tracking.metrics import as_metrics, figures

log = logging.getLogger(__name__)

RESULT_COLUMNS = ["encoder", "setting", "dataset", "method", "classes", "train_videos", "test_videos", "sample_size", "top1", "chance"]


def dataset_params(action_data: dict, overrides: dict | None) -> ActionDataParams:
    """A severe dataset: params:action_data with its overrides (root, demo_domain, ...), so the sampling is shared."""
    merged = {**dict(action_data or {}), **dict(overrides or {})}
    if "demo" in (overrides or {}):
        merged["demo"] = {**dict((action_data or {}).get("demo") or {}), **dict(overrides["demo"] or {})}
    return ActionDataParams.from_params(merged)


def prepare_severe_data(params: dict, action_data: dict, store: Directory) -> tuple[pd.DataFrame, dict]:
    """Index and clip archives of every severe dataset: one table with a ``dataset`` column, and the ingest report."""
    config = SevereParams.from_params(params)
    tables, report = [], {}
    for name, overrides in config.datasets.items():
        data = dataset_params(action_data, overrides)
        root = prepare_root(data)
        videos, problems = index_action_videos(root)
        manifest, report[name] = decode_clips(videos, problems, root, store.path, data)
        tables.append(manifest.assign(dataset=name))
    return pd.concat(tables, ignore_index=True), report


def encoder_entries(config: SevereParams, action_models: dict | None, pretrained_weights: dict) -> dict[str, dict]:
    """{name: extraction job entry}; ``trained_fold: <fold>`` takes that action_recognition fold's TVN-1 checkpoint as weights."""
    return {name: entry for name, (entry, _) in _encoders(config, action_models, pretrained_weights).items()}


def _encoders(config: SevereParams, action_models: dict | None, pretrained_weights: dict) -> dict[str, tuple[dict, str]]:
    """{name: (job entry, what its weights are, for the report)}."""
    entries = {}
    for name, raw in config.encoders.items():  # null entries were left out by SevereParams
        raw = dict(raw)
        fold = raw.pop("trained_fold", None)
        spec = EncoderSpec.from_params(name, raw).resolved(pretrained_weights or {})
        entry = spec.job_entry()
        if fold:
            folds = (action_models or {}).get("folds") or {}
            if fold not in folds:
                raise ValueError(f"severe encoder {name!r}: trained_fold {fold!r} is not a fold of action_models ({sorted(folds)}); "
                                 "run the action_recognition pipeline with that protocol first")
            entry["weights_path"] = folds[fold]["checkpoint"]
        entries[name] = (entry, f"action_recognition fold {fold}" if fold else spec.weights_label())
    return entries


def check_clip_frames(entries: dict[str, dict], frames: int, dataset: str) -> None:
    """A clip encoder reading the clip archives must take the archives' clip length, or its clips would straddle two."""
    for name, entry in entries.items():
        options = entry.get("options") or {}
        if declared_option(entry, "clip_source") == "archive":
            if "clip_frames" in options and int(options["clip_frames"]) != frames:
                raise ValueError(f"severe encoder {name!r}: clip_frames {options['clip_frames']} but the clip archives of {dataset} hold "
                                 f"clips of {frames} frames (action_data.sampling.frames); set them equal")


def extract_severe_features(videos: pd.DataFrame, action_models: dict, params: dict, action_data: dict, pretrained_weights: dict,
                            launch_params: dict, store: Directory) -> dict:
    """Every encoder's per-video items of every dataset (``<dataset>/<encoder>/<video>.npz``); {dataset: {encoder: {folder, failed}}}."""
    config = SevereParams.from_params(params)
    described = _encoders(config, action_models, pretrained_weights)
    entries = {name: entry for name, (entry, _) in described.items()}
    out: dict[str, dict] = {"encoders": {n: {"builder": e["builder"], "weights": label, "stamp": encoder_stamp(e)} for n, (e, label) in described.items()},
                            "datasets": {}}
    for dataset, rows in videos[videos["status"].isin(USABLE)].groupby("dataset", sort=False):
        cache = store.path / dataset
        check_clip_frames(entries, dataset_params(action_data, config.datasets[dataset]).clip_params().sampling.frames, dataset)
        # the source video too: a clip encoder left at clip_source "video" decodes it at its own rate
        jobs = {row.video_id: {"archive": row.archive, "video": row.path} for row in rows.itertuples()}
        log.info("severe: %d encoder(s) over the %d videos of %s", len(entries), len(jobs), dataset)
        extract(entries, jobs, cache, launch_params, config.batch_size)
        out["datasets"][dataset] = {n: {"folder": str(cache / n), "failed": failures(cache / n)} for n in entries}
    return out








def _split(videos: pd.DataFrame, setting: Setting, config: SevereParams) -> tuple[pd.DataFrame, pd.DataFrame]:
    return setting_split(videos, setting, config.test_fraction, config.split_seed, config.subset_seed)


def probe_results(videos: pd.DataFrame, features: dict, params: dict) -> pd.DataFrame:
    """Top-1 of a linear probe for every encoder x setting (one row each)."""
    config = SevereParams.from_params(params)
    probe = config.probe
    rows, read = [], {}  # (dataset, encoder) -> {video: feature}: each item is read once, whatever the settings
    for setting in config.all_settings():
        train, test = _split(videos, setting, config)
        for encoder, info in features["datasets"][setting.dataset].items():
            if (setting.dataset, encoder) not in read:
                read[setting.dataset, encoder] = video_features(info["folder"], list(videos.loc[videos["dataset"] == setting.dataset, "video_id"]))
            row = probe_top1(read[setting.dataset, encoder], train, test, probe)
            rows.append({"encoder": encoder, "setting": setting.name, "dataset": setting.dataset, "method": "linear", **row,
                         "sample_size": setting.sample_size})
            log.info("severe %s / %s: linear probe top-1 %.3f (%d train, %d test videos)", encoder, setting.name, row["top1"],
                     row["train_videos"], row["test_videos"])
    return pd.DataFrame(rows, columns=RESULT_COLUMNS)


def finetune_results(videos: pd.DataFrame, action_models: dict, params: dict, pretrained_weights: dict, launch_params: dict,
                     action_data: dict, store: Directory) -> pd.DataFrame:
    """Top-1 (video level) after fine-tuning each listed encoder end to end on each listed setting (SEVERE's fine-tuning)."""
    config = SevereParams.from_params(params)
    finetune = config.finetune
    names = finetune.encoders
    if not names:
        return pd.DataFrame(columns=RESULT_COLUMNS)
    entries = encoder_entries(config, action_models, pretrained_weights)
    training = config.finetune_training()
    settings = {s.name: s for s in config.all_settings()}
    wanted = finetune.settings or list(settings)
    unknown = sorted(set(wanted) - set(settings))
    if unknown:
        raise ValueError(f"severe.finetune.settings: unknown setting(s) {unknown}; known: {', '.join(settings)}")
    rows = []
    for name in names:
        for setting in (settings[s] for s in wanted):
            sampling = dataset_params(action_data, config.datasets[setting.dataset]).clip_params().sampling
            train, test = _split(videos, setting, config)
            classes = class_count(train, test)
            model = {"encoder": entries[name], "num_classes": classes, "dropout": finetune.dropout}
            options = entries[name].get("options") or {}  # the encoder's own geometry, as in its features
            geometry = ClipSampling(int(options.get("clip_frames", sampling.frames)), sampling.stride, int(options.get("input_size", sampling.size)))
            job = classifier_job(f"fine-tune {name} on {setting.name}", model, pd.concat([train, test]), list(train["video_id"]),
                                 list(test["video_id"]), geometry, training, store.path / f"{name}__{setting.name}")
            run_classifier_job(job, launch_params, stamp_extra={"encoder": encoder_stamp(entries[name])})
            result = job_result(job.predictions, job.labels, classes)
            rows.append({"encoder": name, "setting": setting.name, "dataset": setting.dataset, "method": "finetune", "classes": classes,
                         "train_videos": len(train), "test_videos": len(test), "sample_size": setting.sample_size,
                         "top1": result.video_accuracy, "chance": chance_accuracy(list(test["label"]))})
            log.info("severe %s / %s: fine-tuned top-1 %.3f", name, setting.name, result.video_accuracy)
    return pd.DataFrame(rows, columns=RESULT_COLUMNS)


def evaluate_severe(videos: pd.DataFrame, features: dict, action_models: dict, params: dict, pretrained_weights: dict,
                    launch_params: dict, action_data: dict, finetune_store: Directory):
    """The results table (CSV), the markdown report and the sample-size plot."""
    from video_similarity.action.severe_report import markdown, ranks, sample_size_figure

    parts = [probe_results(videos, features, params),
             finetune_results(videos, action_models, params, pretrained_weights, launch_params, action_data, finetune_store)]
    results = pd.DataFrame([row for part in parts for row in part.to_dict("records")], columns=RESULT_COLUMNS)
    results["rank"] = ranks(results)
    config = SevereParams.from_params(params)
    overlap = pretraining_overlap(videos, action_models, config)
    return results, markdown(results, features, config, overlap), sample_size_figure(results)


def pretraining_overlap(videos: pd.DataFrame, action_models: dict | None, config: SevereParams) -> dict[str, int]:
    """{encoder: test videos of the settings (counted once per setting) that its TVN-1 checkpoint was trained on, by file path}."""
    out = {}
    for name, raw in config.encoders.items():
        fold = raw.get("trained_fold")
        if not fold:
            continue
        trained = set(((action_models or {}).get("folds") or {}).get(fold, {}).get("train_paths") or [])
        out[name] = sum(int(test["path"].isin(trained).sum()) for test in (_split(videos, s, config)[1] for s in config.all_settings()))
    return out


def track_severe_metrics(results: pd.DataFrame) -> dict:
    """severe's table as MLflow metrics: top-1 per encoder x setting x method (severe.tvn1.ucf_100.linear.top1, ...)."""
    table = {f"{row.encoder}.{row.setting}.{row.method}": {"top1": row.top1} for row in results.itertuples(index=False)}
    return as_metrics(figures(table))
