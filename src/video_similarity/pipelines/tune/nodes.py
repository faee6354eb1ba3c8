"""The tune stage: the descriptor settings chosen on the training split's folds (train_ensemble planned them)."""

from __future__ import annotations

import logging
import time

import pandas as pd

from video_similarity.datasets.directory import Directory
from video_similarity.datasets.frame_archives import FrameArchiveStore
from video_similarity.errors import UserError
from video_similarity.extraction import archive_videos, extract
from video_similarity.metrics.vsc import ground_truth_pairs
from video_similarity.pipelines.infer_query.params import VideoScoreParams
from video_similarity.pipelines.infer_ref.params import InferenceParams
from video_similarity.pipelines.pca.params import PcaParams
from video_similarity.pipelines.tune.params import RecipeParams, TuningParams
from video_similarity.vsc.ensemble import members_of
from video_similarity.vsc.folds import TuningFolds
from video_similarity.vsc.settings import DescriptorSettings
from video_similarity.vsc.tuning import Tuner, TuningData
from video_similarity.vsc.video_scores import video_scores

log = logging.getLogger(__name__)


def _first_frozen(ensemble_members: dict) -> str:
    members, models = ensemble_members.get("members") or {}, ensemble_members.get("models") or {}
    frozen = [n for n in members if (models.get(n) or {}).get("frozen")]
    return (frozen or list(members))[0]


def recipe(ensemble_members: dict, given: RecipeParams, source: str, note: str, all_members: bool) -> DescriptorSettings:
    """Settings from ``tuning.fallback`` / ``tuning.fixed``; weights null: every member at 1, or the first frozen member alone."""
    members = list((ensemble_members or {}).get("members") or {})
    if given.weights is None:
        weights = {n: 1.0 for n in members} if all_members else {_first_frozen(ensemble_members): 1.0}
    else:
        unknown = sorted(set(given.weights) - set(members))
        if unknown:
            raise UserError(f"tuning weights name member(s) {unknown} that the ensemble does not have; its members: {members}")
        weights = dict(given.weights)
    return DescriptorSettings(weights, given.projection, given.dedup_threshold, given.beta, given.video_score_threshold, source, note)


def tune_descriptors(
    ensemble_members: dict,
    vid_score_model: dict,
    tuning_folds: dict,
    frame_archives: FrameArchiveStore,
    video_index: pd.DataFrame,
    descriptor_ground_truth: pd.DataFrame,
    embedding_dir: Directory,
    params: dict,
    pca_params: dict,
    video_score_params: dict,
    inference_params: dict,
    launch_params: dict,
) -> tuple[dict, pd.DataFrame, str]:
    """``descriptor_settings`` (what pca, infer_ref and infer_query read), the table of every option scored, and a report."""
    config = TuningParams.from_params(params)
    folds = TuningFolds.from_dict(tuning_folds)
    if config.mode == "fixed":
        settings = recipe(ensemble_members, config.fixed, "fixed", "tuning.mode is fixed: the settings of tuning.fixed", all_members=True)
        return _finish(settings, pd.DataFrame(), folds, [], 0.0)
    if not folds.usable:
        settings = recipe(ensemble_members, config.fallback, "fallback", "", all_members=False)
        note = (f"No tuning: {folds.reason}. The fallback settings (tuning.fallback) are used instead: what held on real footage "
                "without a training split to choose on (docs/vsc_descriptor.md, \"Choosing the settings\").")
        log.warning("Descriptor settings: %s", note)
        return _finish(settings.replace(note=note), pd.DataFrame(), folds, [], 0.0)
    start = time.perf_counter()
    batch_size = InferenceParams.from_params(inference_params).batch_size
    video_score = VideoScoreParams.from_params(video_score_params)
    references, queries = folds.videos()
    archives = frame_archives.archives(video_index, folds.split)
    fold_archives = {v: archives[v] for v in references + queries if v in archives}
    members = members_of(ensemble_members)
    log.info("Tuning on split %r: embedding %d videos with %d members", folds.split, len(fold_archives), len(members))
    embeddings = extract(members, archive_videos(fold_archives), embedding_dir.path, launch_params, batch_size, merge_job="tuning")
    scores = None
    if video_score.enabled:
        query_archives = {q: fold_archives[q] for q in queries if q in fold_archives}
        scores = video_scores(vid_score_model, query_archives, embedding_dir.path, launch_params, batch_size, video_score.batch_size)
    gt = descriptor_ground_truth[descriptor_ground_truth["split"] == folds.split]
    durations = video_index.set_index("video_id")["duration"].astype(float).to_dict()
    trained = frozenset(n for n, m in (ensemble_members.get("models") or {}).items() if not m.get("frozen"))
    data = TuningData(embeddings, trained, folds, ground_truth_pairs(gt), {q: durations[q] for q in queries}, scores)
    pca = PcaParams.from_params(pca_params)
    start_settings = recipe(ensemble_members, config.fallback, "tuned", "", all_members=False)
    result = Tuner(data, config.search, config.bootstrap, config.seed, pca.frames_per_dim, pca.max_frames, config.margin).run(start_settings)
    steps = result.steps
    final = steps[-1]
    note = (f"tuned on split {folds.split!r}: {len(folds.folds)} folds of its references with the queries that copy them, "
            f"mean uAP {final['chosen_uAP']:.4f} over fold(s) {','.join(map(str, final['folds']))} "
            f"({'fold 0 held out from training' if folds.holdout else 'nothing held out'})")
    return _finish(result.settings.replace(source="tuned", note=note), result.table, folds, steps, time.perf_counter() - start)


def _finish(settings: DescriptorSettings, table: pd.DataFrame, folds: TuningFolds, steps: list[dict], seconds: float) -> tuple[dict, pd.DataFrame, str]:
    log.info("Descriptor settings (%s): %s", settings.source, settings.summary())
    return settings.to_dict(), table, _report(settings, table, folds, steps, seconds)


def _report(settings: DescriptorSettings, table: pd.DataFrame, folds: TuningFolds, steps: list[dict], seconds: float) -> str:
    lines = [f"# Descriptor settings ({settings.source})", "", f"**{settings.summary()}**", "", settings.note, ""]
    if folds.usable:
        lines += [f"Split `{folds.split}`, {len(folds.folds)} folds" + (f" ({folds.sampled})" if folds.sampled else "") + ":", "",
                  "| fold | references | queries | role |", "|---|---|---|---|"]
        for k, fold in enumerate(folds.folds):
            role = "held out from training: trained members and the video score are judged here" if k == 0 and folds.holdout else ""
            lines.append(f"| {k} | {len(fold.references)} | {len(fold.queries)} | {role} |")
        lines += ["", "In fold k the fold's queries search the fold's references; every other reference of the split is the "
                  "noise bank and the PCA's fitting frames. Criterion: mean uAP over the folds. At each step the simplest option "
                  "whose mean is within the noise of the best is chosen (noise: the margin times the standard deviation of the "
                  "difference to the best over a paired bootstrap of the queries).", ""]
    if steps:
        lines += [f"Tuning took {seconds:.0f} s.", "", "## Steps", "", "| step | folds | options | best (uAP) | chosen (uAP) |", "|---|---|---|---|---|"]
        for s in steps:
            lines.append(f"| {s['step']} | {','.join(map(str, s['folds']))} | {s['options']} | {s['best']} ({s['best_uAP']:.4f}) | "
                         f"{s['chosen']} ({s['chosen_uAP']:.4f}) |")
    if len(table):
        fold_columns = [c for c in table.columns if c.startswith("fold ")]
        lines += ["", "## Every option", "", "| step | option | uAP | " + " | ".join(fold_columns) + " | noise | within noise | chosen |",
                  "|---" * (6 + len(fold_columns)) + "|"]
        for row in table.to_dict("records"):
            if pd.isna(row.get("uAP")):  # an option the data cannot support, with the reason
                lines.append(f"| {row['step']} | {row['option']} | - | " + " | ".join("-" for _ in fold_columns) + f" | - | {row['settings']} | |")
                continue
            values = " | ".join("-" if pd.isna(row.get(c)) else f"{row[c]:.4f}" for c in fold_columns)
            lines.append(f"| {row['step']} | {row['option']} | {row['uAP']:.4f} | {values} | {row['noise']:.4f} | "
                         f"{'yes' if row['within_noise'] else 'no'} | {'**yes**' if row['chosen'] else ''} |")
    return "\n".join(lines) + "\n"
