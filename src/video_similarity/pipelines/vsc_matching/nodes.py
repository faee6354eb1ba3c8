"""The VSC matching track: per-second descriptors, candidate pairs, each localiser's copied segments, their scores and report."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from video_similarity.cache import open_stamped
from video_similarity.datasets.directory import Directory
from video_similarity.datasets.frame_archives import FrameArchiveStore
from video_similarity.descriptors import Descriptors
from video_similarity.frames.preprocess import preprocess_videos
from video_similarity.jobs import run_job
from video_similarity.metrics.vsc import knn_candidates
from video_similarity.params import SearchIndexParams
from video_similarity.pipelines.infer_ref.params import InferenceParams
from video_similarity.pipelines.preprocess.params import PreprocessParams
from video_similarity.pipelines.vsc_matching.params import MatchingParams
from video_similarity.tracking.metrics import as_metrics, figures
from video_similarity.training.tasks.alignment import AlignmentJob
from video_similarity.vsc.alignment_pairs import compose_training_pairs
from video_similarity.vsc.ensemble import embed_with_ensemble, project
from video_similarity.vsc.localization.registry import LOCALIZERS, PairMatrices, build_localizer, localize_pairs
from video_similarity.vsc.matches import validate_matches
from video_similarity.vsc.matching_report import draw_pairs, pr_figure, recall_breakdown, segment_recall
from video_similarity.vsc.score_norm import normalize_queries, normalize_references
from video_similarity.vsc.segment_ap import evaluate_matching
from video_similarity.vsc.settings import DescriptorSettings

log = logging.getLogger(__name__)


def _fps_differs(config: MatchingParams, preprocess: dict) -> bool:
    return abs(config.fps - PreprocessParams.from_params(preprocess).fps) > 1e-9


def matching_archives(video_index: pd.DataFrame, frame_archives: FrameArchiveStore, archive_store: FrameArchiveStore, params: dict,
                      preprocess: dict, inference: dict) -> pd.DataFrame:
    """The frame archives this track reads: the descriptor track's, or (``fps`` != preprocess.fps) the needed splits again at ``fps``."""
    config = MatchingParams.from_params(params)
    if not _fps_differs(config, preprocess):
        return frame_archives.manifest
    infer = InferenceParams.from_params(inference)
    splits = {infer.split, infer.noise_split, config.training.split}
    videos = video_index[video_index["split"].isin(splits)]
    prep = PreprocessParams.from_params(preprocess)
    settings = dataclasses.replace(prep.archive_settings(), fps=config.fps)
    log.info("Matching track at %g fps: archiving %d videos of splits %s", config.fps, len(videos), sorted(splits))
    manifest, _ = preprocess_videos(videos, archive_store.root, settings, workers=prep.workers, only_missing=prep.only_missing)
    return manifest


def _cache(embedding_dir: Directory, config: MatchingParams, preprocess: dict) -> Path:
    """The descriptor track's embedding store at its fps; a folder of its own at another fps (same ids, other archives)."""
    path = Path(embedding_dir.path)
    return path / f"fps_{config.fps:g}" if _fps_differs(config, preprocess) else path


def _split_rows(table: pd.DataFrame | None, split: str) -> pd.DataFrame | None:
    """The rows of ``split`` of a table with a ``split`` column (a table without one is taken whole)."""
    return table[table["split"] == split] if table is not None and "split" in table.columns else table


def _embed(ensemble_members, descriptor_settings, pca_model, archives: FrameArchiveStore, video_index, cache: Path, split: str, role: str,
           job: str, inference: InferenceParams, launch_params) -> Descriptors:
    found = archives.archives(video_index, split, role)
    if not found:
        raise ValueError(f"vsc_matching: no {role} archives in split {split!r}")
    settings = DescriptorSettings.from_dict(descriptor_settings)
    return project(embed_with_ensemble(ensemble_members, settings, found, cache, job, inference.batch_size, launch_params), pca_model)


def matching_descriptors(ensemble_members: dict, descriptor_settings: dict, pca_model, matching_frame_archives: FrameArchiveStore,
                         video_index: pd.DataFrame, embedding_dir: Directory, query_video_scores: pd.DataFrame | None, params: dict,
                         preprocess: dict, inference: dict, launch_params: dict, search_index: dict | None = None) -> tuple[Descriptors, Descriptors]:
    """Score-normalised descriptors of every query and reference second of the evaluated split (no de-duplication, no budget).

    The same members, projection and beta as the descriptor track's submission;
    a query its video score suppressed keeps its rows with the bias -100 (no
    pair of it can be localised). At the descriptor track's fps the embeddings
    are its cached items (nothing is extracted again).
    """
    config, infer = MatchingParams.from_params(params), InferenceParams.from_params(inference)
    cache = _cache(embedding_dir, config, preprocess)
    args = (ensemble_members, descriptor_settings, pca_model, matching_frame_archives, video_index, cache)
    queries = _embed(*args, infer.split, "query", "matching_queries", infer, launch_params)
    references = _embed(*args, infer.split, "reference", "matching_references", infer, launch_params)
    noise = _embed(*args, infer.noise_split, "reference", "matching_noise", infer, launch_params)
    suppressed = set()
    if query_video_scores is not None and len(query_video_scores) and "suppressed" in query_video_scores.columns:
        suppressed = set(query_video_scores.loc[query_video_scores["suppressed"].astype(bool), "video_id"].astype(str))
    low = np.isin(queries.video_ids, sorted(suppressed)) if suppressed else None
    beta = DescriptorSettings.from_dict(descriptor_settings).beta
    log.info("Matching descriptors at %g fps: %d query and %d reference rows (%d suppressed queries)", config.fps, len(queries), len(references),
             len(suppressed))
    search = SearchIndexParams.from_params(search_index)
    return (Descriptors(queries.video_ids, queries.timestamps, normalize_queries(queries.features, noise.features, beta, low, search)),
            Descriptors(references.video_ids, references.timestamps, normalize_references(references.features, noise.features)))


def candidate_pairs(matching_queries: Descriptors, matching_references: Descriptors, params: dict, search_index: dict | None = None) -> pd.DataFrame:
    """The official baseline's candidates: the global search (through ``params:search_index``), max per pair, the best ``candidates_per_query`` x queries pairs."""
    config = MatchingParams.from_params(params)
    candidates = knn_candidates(matching_queries, matching_references, retrieval_per_query=config.retrieval_per_query,
                                candidates_per_query=config.candidates_per_query, search=SearchIndexParams.from_params(search_index))
    log.info("Candidates: %d pairs", len(candidates))
    return candidates


def train_alignment_network(ensemble_members: dict, descriptor_settings: dict, pca_model, matching_frame_archives: FrameArchiveStore,
                            video_index: pd.DataFrame, embedding_dir: Directory, matching_ground_truth: pd.DataFrame, model_dir: Directory,
                            params: dict, preprocess: dict, inference: dict, launch_params: dict) -> dict:
    """Compose training pairs from the training split (``vsc/alignment_pairs.py``), train the network (one job); its manifest.

    The folder is stamped with the settings and a digest of the pairs, so new
    descriptors or ground truth retrain it and an interrupted run resumes.
    """
    config, infer = MatchingParams.from_params(params), InferenceParams.from_params(inference)
    training = config.training
    if training.split == infer.split:
        raise ValueError(f"vsc_matching.training.split is the evaluated split {infer.split!r}: the network would be trained on what it is scored on")
    cache = _cache(embedding_dir, config, preprocess)
    args = (ensemble_members, descriptor_settings, pca_model, matching_frame_archives, video_index, cache)
    queries = _embed(*args, training.split, "query", "alignment_queries", infer, launch_params)
    references = _embed(*args, training.split, "reference", "alignment_references", infer, launch_params)
    gt = _split_rows(matching_ground_truth, training.split)
    if gt.empty:
        raise ValueError(f"vsc_matching: split {training.split!r} has no matching ground truth to train the alignment network on")
    beta = DescriptorSettings.from_dict(descriptor_settings).beta
    pairs = compose_training_pairs(queries, references, gt, beta, training)
    folder = Path(model_dir.path)
    scratch = folder.parent / f".{folder.name}_pairs.npz"
    pairs.save(scratch)
    digest = hashlib.sha256(scratch.read_bytes()).hexdigest()
    open_stamped(folder, {"settings": dataclasses.asdict(training) | {"network": dataclasses.asdict(config.network)}, "pairs": digest})
    pairs_file = folder / "pairs.npz"
    scratch.replace(pairs_file)
    torchscript, report = folder / "model.pt", folder / "report.json"
    if torchscript.is_file() and report.is_file():
        log.info("The alignment network is already trained (%s)", torchscript)
    else:
        job = AlignmentJob(name="alignment", pairs=str(pairs_file), width=config.network.width, dilations=list(config.network.dilations),
                           epochs=training.epochs, batch_size=training.batch_size, lr=training.lr, weight_decay=training.weight_decay,
                           positive_weight=training.positive_weight, seed=training.seed, checkpoint=str(folder / "model.ckpt"), torchscript=str(torchscript), report=str(report))
        run_job(job, launch_params, workdir=folder / "jobs")
    result = json.loads(report.read_text())
    log.info("Alignment network: %d training pairs %s, last epoch loss %.4f", result["pairs"], result["kinds"], result["history"][-1]["loss"])
    return {"torchscript": str(torchscript), "checkpoint": str(folder / "model.ckpt"), "pairs": result["pairs"], "kinds": result["kinds"],
            "final_loss": result["history"][-1]["loss"], "split": training.split}


def _localize(name: str, queries: Descriptors, references: Descriptors, candidates: pd.DataFrame, params: dict, model_file: str | None) -> pd.DataFrame:
    config = MatchingParams.from_params(params)
    n_queries = len(queries.video_groups())
    top = candidates.iloc[: int(config.localize_per_query * n_queries)]
    matches = localize_pairs(build_localizer(name, config, model_file), top, PairMatrices(queries, references), desc=f"localising ({name})")
    matches = validate_matches(matches, source=f"{name} matches", query_ids=set(queries.video_ids), ref_ids=set(references.video_ids))
    log.info("%s: %d segments in %d of %d localised pairs", name, len(matches), matches[["query_id", "ref_id"]].drop_duplicates().shape[0], len(top))
    return matches


def localize_with_tn(matching_queries: Descriptors, matching_references: Descriptors, matching_candidates: pd.DataFrame, params: dict) -> pd.DataFrame:
    """TN over the best ``localize_per_query`` x queries candidates: the official baseline's matches."""
    return _localize("tn", matching_queries, matching_references, matching_candidates, params, None)


def localize_with_network(matching_queries: Descriptors, matching_references: Descriptors, matching_candidates: pd.DataFrame,
                          alignment_model: dict, params: dict) -> pd.DataFrame:
    """The alignment network over the same candidates."""
    return _localize("network", matching_queries, matching_references, matching_candidates, params, alignment_model["torchscript"])


def _figure_pairs(gt: pd.DataFrame, candidates: pd.DataFrame, count: int) -> list[tuple[str, str]]:
    """Ground-truth pairs among the candidates, the ones with most segments first, then spread over the rest."""
    found = set(zip(candidates["query_id"].astype(str), candidates["ref_id"].astype(str)))
    counts = gt.groupby(["query_id", "ref_id"]).size().sort_values(ascending=False, kind="stable")
    pairs = [p for p in counts.index if (str(p[0]), str(p[1])) in found]
    if len(pairs) <= count:
        return [(str(q), str(r)) for q, r in pairs]
    picks = [pairs[0]] + [pairs[i] for i in np.linspace(1, len(pairs) - 1, count - 1).round().astype(int)]
    return [(str(q), str(r)) for q, r in dict.fromkeys(picks)]


def evaluate_matching_track(tn_matches: pd.DataFrame, network_matches: pd.DataFrame, matching_ground_truth: pd.DataFrame, query_edits: pd.DataFrame,
                            matching_queries: Descriptors, matching_references: Descriptors, matching_candidates: pd.DataFrame, params: dict,
                            inference: dict) -> tuple:
    """Segment AP and pairwise uAP per localiser (the command line's scoring), recall of copied seconds, the PR curve, figures, the report."""
    config, infer = MatchingParams.from_params(params), InferenceParams.from_params(inference)
    gt = _split_rows(matching_ground_truth, infer.split)
    gt = validate_matches(gt, source="matching ground truth", ground_truth=True)
    if gt.empty:
        raise ValueError(f"vsc_matching: split {infer.split!r} has no matching ground truth to score against")
    edits = _split_rows(query_edits, infer.split)
    predictions = dict(zip(LOCALIZERS, (tn_matches, network_matches)))
    metrics, curves, recalls = {"split": infer.split, "fps": config.fps, "localizers": {}}, {}, {}
    for name, matches in predictions.items():
        scores, curve = evaluate_matching(matches, gt, return_curve=True) if len(matches) else (evaluate_matching(matches, gt), None)
        recalls[name] = segment_recall(gt, matches)
        scores["recall_of_copied_seconds"] = round(float(recalls[name]["recall"].mean()), 4)
        metrics["localizers"][name] = scores
        curves[name] = (curve.precisions, curve.recalls, scores["segment_ap"]) if curve is not None else (np.zeros(0), np.zeros(0), 0.0)
    breakdown = recall_breakdown(recalls, edits)
    metrics["recall_breakdown"] = breakdown.to_dict(orient="records")
    figures = []
    pairs = _figure_pairs(gt, matching_candidates, config.figure_pairs)
    matrices = PairMatrices(matching_queries, matching_references)
    drawn = []
    for q, r in pairs:
        (qa, qb), (ra, rb) = matrices.q_rows[q], matrices.r_rows[r]
        drawn.append((q, r, matrices(q, r), (float(matrices.q_spans[qa, 0]), float(matrices.q_spans[qb - 1, 1])),
                      (float(matrices.r_spans[ra, 0]), float(matrices.r_spans[rb - 1, 1]))))
    for name, matches in predictions.items():
        figures.append(draw_pairs(drawn, gt, matches, f"{name}: ground truth (green) and predicted segments (red, dashed)"))
    report = _report(metrics, breakdown, len(gt), gt[["query_id", "ref_id"]].drop_duplicates().shape[0], len(matching_candidates))
    return (metrics, report, pr_figure(curves), *figures)


def _report(metrics: dict, breakdown: pd.DataFrame, segments: int, pairs: int, candidates: int) -> str:
    names = list(metrics["localizers"])
    lines = [f"# VSC matching track: split `{metrics['split']}` at {metrics['fps']:g} fps", "",
             f"{segments} copied segments in {pairs} (query, reference) pairs; {candidates} candidate pairs from the global search "
             "(docs/vsc_matching.md). Segment AP and pairwise uAP are the official evaluator's "
             "(`python -m video_similarity.metrics.matching`).", "",
             "| localiser | segment AP | pairwise uAP | segments predicted | recall of copied seconds |", "|---|---|---|---|---|"]
    for name in names:
        m = metrics["localizers"][name]
        lines.append(f"| {name} | {m['segment_ap']:.4f} | {m['pairwise_uap']:.4f} | {m['predictions']} | {m['recall_of_copied_seconds']:.4f} |")
    lines += ["", "## Recall of copied seconds", "",
              "The share of each ground-truth segment's query seconds that the pair's predictions cover (every prediction), "
              "averaged by segment length and by the query's edits.", "",
              "| group | segments | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
    for row in breakdown.to_dict(orient="records"):
        lines.append(f"| {row['group']} | {row['segments']} | " + " | ".join(f"{row[n]:.3f}" for n in names) + " |")
    lines += ["", "Figures: `matching_pr_curve.png`, " + ", ".join(f"`matching_pairs_{n}.png`" for n in names) + "."]
    return "\n".join(lines) + "\n"


def _copy_settings(find_copies: dict, params: dict, preprocess: dict, scene_detection: dict, video_score: dict, inference: dict,
                   launch_params: dict, search_index: dict | None):
    from video_similarity.vsc.copies.service import Settings

    return Settings.from_params({"find_copies": find_copies, "vsc_matching": params, "preprocess": preprocess, "scene_detection": scene_detection,
                                 "video_score": video_score, "inference": inference, "launch": launch_params,
                                 "search_index": search_index}, in_process=False)


def choose_copy_thresholds(ensemble_members: dict, descriptor_settings: dict, pca_model, frame_archives: FrameArchiveStore,
                           video_index: pd.DataFrame, embedding_dir: Directory, matching_ground_truth: pd.DataFrame, tuning_folds: dict | None,
                           alignment_model: dict, find_copies: dict, params: dict, inference: dict, launch_params: dict,
                           search_index: dict | None = None) -> dict:
    """``kedro find-copies``' default threshold per localiser, chosen on the training split (never the evaluated one): best pair F1.

    The training split's queries and references at the descriptor track's fps
    (the cached embeddings), searched and localised as the command does, in the
    tune stage's held-out fold: no ensemble member or video-score model trained
    on it, the split's other references its noise bank
    (:func:`video_similarity.vsc.copies.search.held_out_thresholds`).
    """
    from video_similarity.vsc.copies.params import FindCopiesParams
    from video_similarity.vsc.copies.search import held_out_thresholds, threshold_groups
    from video_similarity.vsc.folds import TuningFolds

    config, infer, find = MatchingParams.from_params(params), InferenceParams.from_params(inference), FindCopiesParams.from_params(find_copies)
    split = config.training.split
    if split == infer.split:
        raise ValueError(f"vsc_matching.training.split is the evaluated split {infer.split!r}: the threshold would be chosen on test data")
    settings = DescriptorSettings.from_dict(descriptor_settings)
    args = (ensemble_members, descriptor_settings, pca_model, frame_archives, video_index, Path(embedding_dir.path), split)
    embedded = {role: _embed(*args, role, f"threshold_{role}", infer, launch_params) for role in ("query", "reference")}
    gt = _split_rows(matching_ground_truth, split)
    positives = {(str(q), str(r)) for q, r in zip(gt["query_id"], gt["ref_id"])}
    localizers = {name: build_localizer(name, config, alignment_model["torchscript"] if name == "network" else None) for name in LOCALIZERS}
    folds = TuningFolds.from_dict(tuning_folds) if tuning_folds and tuning_folds.get("split") == split else None
    groups, where = threshold_groups(folds, sorted(set(embedded["reference"].video_ids.tolist())),
                                     sorted(set(embedded["query"].video_ids.tolist())))
    chosen = held_out_thresholds(embedded["query"], embedded["reference"], positives, groups, settings.beta, localizers,
                                 find.retrieval_per_query, find.candidates_per_query, find.localize_per_query,
                                 SearchIndexParams.from_params(search_index))
    thresholds = {}
    for name, threshold in chosen.items():
        if threshold is None:
            log.warning("Copy threshold (%s): no copy of split %s's %s was localised; find-copies uses find_copies.fallback_threshold %g",
                        name, split, where, find.fallback_threshold)
            thresholds[name] = {"threshold": find.fallback_threshold, "split": split, "chosen_on": f"nothing: no copy localised in {where}",
                                "rule": "find_copies.fallback_threshold"}
            continue
        log.info("Copy threshold (%s) on split %s, %s: %.4f (pair precision %.3f, recall %.3f, F1 %.3f over %d pairs, %d copied)", name,
                 split, where, threshold.threshold, threshold.precision, threshold.recall, threshold.f1, threshold.pairs, threshold.positives)
        thresholds[name] = {**threshold.as_dict(), "split": split, "chosen_on": where, "rule": "best pair F1"}
    return thresholds


def build_copy_index(reference_descriptors: Descriptors, video_index: pd.DataFrame, frame_archives: FrameArchiveStore, copy_thresholds: dict,
                     ensemble_members: dict, descriptor_settings: dict, pca_model, noise_bank: Descriptors, vid_score_model: dict,
                     alignment_model: dict, index_dir: Directory, additions_dir: Directory, find_copies: dict,
                     params: dict, preprocess: dict, scene_detection: dict, video_score: dict, inference: dict, launch_params: dict,
                     search_index: dict | None = None) -> dict:
    """The copy index ``kedro find-copies`` reads: the submitted reference rows, their faiss index, the thresholds, the stamp
    of the models and settings (a new version, published whole; references users added or removed stay so)."""
    from video_similarity.vsc.copies.service import Folders, Models, build_copy_index as build

    settings = _copy_settings(find_copies, params, preprocess, scene_detection, video_score, inference, launch_params, search_index)
    if _fps_differs(settings.matching, preprocess):
        log.warning("The alignment network was trained at %g fps (vsc_matching.fps); kedro find-copies localises at the descriptor track's "
                    "%g fps: prefer find_copies.localizer tn, or train the network at that fps", settings.matching.fps, settings.preprocess.fps)
    split = settings.inference.split
    refs = video_index[(video_index["split"] == split) & (video_index["role"] == "reference")]
    archives = pd.Series(frame_archives.archives(video_index, split, "reference"), dtype=object)  # a failed video has none
    table = pd.DataFrame({"ref_id": refs["video_id"].astype(str), "path": refs["path"].astype(str),
                          "archive": refs["video_id"].map(archives).fillna("").to_numpy(), "origin": "dataset", "source_key": ""})
    models = Models(ensemble_members, descriptor_settings, pca_model, noise_bank, vid_score_model, alignment_model)
    folders = Folders(Path(index_dir.path), Path(additions_dir.path))
    return build(reference_descriptors, table, copy_thresholds, models, settings, folders)


def track_matching_metrics(metrics: dict) -> dict:
    """Each localiser's segment AP, pairwise uAP and recall of copied seconds as MLflow metrics (matching.tn.segment_ap, ...)."""
    return as_metrics(figures(metrics["localizers"], keep={"segment_ap", "pairwise_uap", "recall_of_copied_seconds"}))
