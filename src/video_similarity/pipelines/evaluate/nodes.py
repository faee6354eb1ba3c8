"""Score the submission and two baselines with the same code path, and write the reports."""

from __future__ import annotations

import logging
import math

import numpy as np
import pandas as pd
from matplotlib.figure import Figure  # a bare Figure: no pyplot state, no GUI backend

from video_similarity.datasets.directory import Directory
from video_similarity.datasets.frame_archives import FrameArchiveStore
from video_similarity.descriptors import Descriptors, validate_submission
from video_similarity.embeddings import drop_near_duplicates, project, score_normalized, select
from video_similarity.extraction import archive_videos, extract
from video_similarity.metrics.vsc import evaluate, ground_truth_pairs, micro_average_precision, precision_recall_curve
from video_similarity.pipelines.pca.nodes import fit_descriptor_pca

log = logging.getLogger(__name__)


def _split_rows(video_index: pd.DataFrame, split: str, role: str) -> pd.DataFrame:
    return video_index[(video_index["split"] == split) & (video_index["role"] == role)]


def _split_ids(video_index: pd.DataFrame, split: str, role: str) -> list[str]:
    return _split_rows(video_index, split, role)["video_id"].tolist()


def _evaluated_archives(frame_archives: FrameArchiveStore, video_index: pd.DataFrame, params: dict) -> dict[str, str]:
    """Archives a baseline needs: every video of the evaluated split and the noise split's references."""
    return {
        **frame_archives.archives(video_index, params["split"]),
        **frame_archives.archives(video_index, params["noise_split"], "reference"),
    }


def _baseline_submission(frames: Descriptors, video_index: pd.DataFrame, params: dict) -> tuple[Descriptors, Descriptors]:
    """The submission path of the ensemble (dedupe queries, score-normalise) on other per-second features."""
    queries = drop_near_duplicates(select(frames, _split_ids(video_index, params["split"], "query")), float(params["dedup_threshold"]))
    refs = select(frames, _split_ids(video_index, params["split"], "reference"))
    noise = select(frames, _split_ids(video_index, params["noise_split"], "reference"))
    return score_normalized(queries, refs, noise, float(params["beta"]))


def pdq_baseline(
    frame_archives: FrameArchiveStore, video_index: pd.DataFrame, embedding_dir: Directory, params: dict, launch_params: dict
) -> tuple[Descriptors, Descriptors]:
    """PDQ perceptual hashes, one per second (the registry's ``pdq`` encoder through the one extraction worker)."""
    videos = archive_videos(_evaluated_archives(frame_archives, video_index, params))
    entry = {"pdq": {"builder": "pdq", "weights_path": None, "seed": 0, "whitening_path": None, "options": {}}}
    frames = extract(entry, videos, embedding_dir.path, launch_params, int(params["batch_size"]), merge_job="pdq")["pdq"]
    return _baseline_submission(frames, video_index, params)


def untrained_baseline(
    frame_archives: FrameArchiveStore,
    video_index: pd.DataFrame,
    embedding_dir: Directory,
    params: dict,
    baseline: dict,
    pca_params: dict,
    launch_params: dict,
) -> tuple[Descriptors, Descriptors]:
    """A backbone with random weights (GeM + projection) through the ensemble's path: extraction, PCA, submission.

    It isolates what training adds: same architecture, same post-processing, no learning.
    """
    pca_refs = frame_archives.archives(video_index, pca_params["split"], "reference")
    wanted = {**_evaluated_archives(frame_archives, video_index, params), **pca_refs}
    entry = {"untrained": {"builder": baseline["backbone"], "weights_path": None, "seed": int(baseline["seed"]), "whitening_path": None,
                           "options": {"dim": int(baseline["dim"]), "input_size": int(baseline["image_size"])}}}
    frames = extract(entry, archive_videos(wanted), embedding_dir.path, launch_params, int(params["batch_size"]), merge_job="untrained")["untrained"]
    pca = fit_descriptor_pca(select(frames, pca_refs).features, pca_params)
    return _baseline_submission(project(frames, pca), video_index, params)


def _durations(video_index: pd.DataFrame, split: str, role: str) -> dict[str, float]:
    """Durations of every indexed video of the split and role: the challenge's descriptor budget."""
    return _split_rows(video_index, split, role).set_index("video_id")["duration"].astype(float).to_dict()


def score_submission(
    query: Descriptors, reference: Descriptors, positives: set, video_index: pd.DataFrame, split: str
) -> tuple[dict, pd.DataFrame]:
    """Validate by the challenge's rules, then score with the library's evaluator (the command line's code)."""
    validate_submission(query, reference, _durations(video_index, split, "query"), _durations(video_index, split, "reference"))
    return evaluate(query, reference, positives, return_candidates=True)


def _edit_breakdown(candidates: pd.DataFrame, positives: set, query_edits: pd.DataFrame, split: str) -> list[dict]:
    """Per edit: uAP restricted to the queries with that edit (plus every query without a copy, as
    distractors), and recall@1: the share of those queries whose best-scoring reference is a true one."""
    edits = query_edits[query_edits["split"] == split]
    if edits.empty:
        return []
    no_copy = set(edits.loc[~edits["has_copy"], "query_id"])
    names = {e or "none" for row in edits.loc[edits["has_copy"], "edits"] for e in (row.split(";") if row else [""])}
    rows = []
    for name in sorted(names):
        with_edit = set(edits.loc[edits["has_copy"] & edits["edits"].map(lambda s: name in (s.split(";") if s else ["none"])), "query_id"])
        keep = with_edit | no_copy
        subset = candidates[candidates["query_id"].isin(keep)]
        pos = {p for p in positives if p[0] in with_edit}
        best = candidates[candidates["query_id"].isin(with_edit)].sort_values("score", ascending=False, kind="stable").drop_duplicates("query_id")
        found = sum((q, r) in pos for q, r in zip(best["query_id"], best["ref_id"]))
        rows.append({
            "edit": name,
            "queries": len(with_edit),
            "uAP": round(float(micro_average_precision(subset, pos)), 4) if pos else math.nan,
            "recall@1": round(found / len(with_edit), 4) if with_edit else math.nan,
        })
    return rows


def evaluate_submissions(
    query_descriptors: Descriptors,
    reference_descriptors: Descriptors,
    pdq_query_descriptors: Descriptors,
    pdq_reference_descriptors: Descriptors,
    untrained_query_descriptors: Descriptors,
    untrained_reference_descriptors: Descriptors,
    descriptor_ground_truth: pd.DataFrame,
    query_edits: pd.DataFrame,
    video_index: pd.DataFrame,
    params: dict,
) -> tuple[dict, Figure, pd.DataFrame, str]:
    """Metrics JSON, precision-recall plot, per-edit table and a markdown comparison."""
    split = params["split"]
    positives = ground_truth_pairs(descriptor_ground_truth[descriptor_ground_truth["split"] == split])
    runs = {
        "ensemble": (query_descriptors, reference_descriptors),
        "pdq": (pdq_query_descriptors, pdq_reference_descriptors),
        "untrained": (untrained_query_descriptors, untrained_reference_descriptors),
    }
    metrics: dict = {"split": split, "methods": {}}
    figure = Figure(figsize=(5, 4))
    axis = figure.add_subplot()
    breakdown = []
    for method, (query, reference) in runs.items():
        scores, candidates = score_submission(query, reference, positives, video_index, split)
        metrics["methods"][method] = scores
        log.info("%s: uAP %.4f", method, scores["uAP"])
        precision, recall, _ = precision_recall_curve(candidates, positives)
        axis.plot(recall, precision, label=f"{method} (uAP {scores['uAP']:.3f})")
        breakdown += [{"method": method, **row} for row in _edit_breakdown(candidates, positives, query_edits, split)]
    axis.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02), title=f"VSC descriptor track, split {split}")
    axis.legend(loc="lower left")
    figure.tight_layout()
    table = pd.DataFrame(breakdown)
    return metrics, figure, table, _markdown(metrics, table)


def _markdown(metrics: dict, table: pd.DataFrame) -> str:
    lines = [f"# VSC descriptor track: split {metrics['split']}", "", "| method | uAP | query descr. | reference descr. | dim | positives retrieved |", "|---|---|---|---|---|---|"]
    for method, m in metrics["methods"].items():
        lines.append(f"| {method} | {m['uAP']:.4f} | {m['query_descriptors']} | {m['reference_descriptors']} | {m['dim']} | {m['positives_retrieved']}/{m['positives']} |")
    titles = {
        "uAP": "uAP by edit (queries with the edit, plus all queries without a copy)",
        "recall@1": "recall@1 by edit (queries with the edit whose best reference is the copied one)",
    }
    for value, title in titles.items():
        if table.empty:
            break
        wide = table.pivot(index="edit", columns="method", values=value)
        methods = list(wide.columns)
        lines += ["", f"## {title}", "", "| edit | " + " | ".join(methods) + " |", "|---" * (len(methods) + 1) + "|"]
        for edit, row in wide.iterrows():
            lines.append(f"| {edit} | " + " | ".join("-" if pd.isna(v) else f"{v:.3f}" for v in row) + " |")
    return "\n".join(lines) + "\n"
