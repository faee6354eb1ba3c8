"""Score the ensemble's submission and the baselines' (made by the same stages) with the library's evaluator; write the reports."""

from __future__ import annotations

import logging
import math

import pandas as pd
from matplotlib.figure import Figure  # a bare Figure: no pyplot state, no GUI backend

from video_similarity.descriptors import Descriptors, validate_submission
from video_similarity.metrics.vsc import evaluate, ground_truth_pairs, micro_average_precision, precision_recall_curve
from video_similarity.tracking.metrics import as_metrics, figures
from video_similarity.vsc.settings import DescriptorSettings

log = logging.getLogger(__name__)


def _split_rows(video_index: pd.DataFrame, split: str, role: str) -> pd.DataFrame:
    return video_index[(video_index["split"] == split) & (video_index["role"] == role)]


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


#: The ablation's rows: label -> the infer_query namespace of its submission (None: the main submission).
ABLATION_ROWS = {"ensemble only": "no_boosters", "+ scene detection": "scenes_only", "+ video score": "video_score_only", "both": None}


def evaluate_submissions(
    query_descriptors: Descriptors,
    reference_descriptors: Descriptors,
    descriptor_ground_truth: pd.DataFrame,
    query_edits: pd.DataFrame,
    video_index: pd.DataFrame,
    params: dict,
    query_video_scores: pd.DataFrame | None = None,
    descriptor_settings: dict | None = None,
    **submissions: Descriptors,
) -> tuple[dict, Figure, pd.DataFrame, str]:
    """Metrics JSON, precision-recall plot, per-edit table and a markdown comparison.

    ``submissions`` are ``<name>_query_descriptors`` / ``<name>_reference_descriptors`` pairs (the
    baselines pipeline's outputs), scored after the ensemble in the order given, and
    ``ablation_<namespace>_query_descriptors``: the ensemble's queries without one booster or both
    (infer_query's ablation), scored against the ensemble's references.
    """
    split = params["split"]
    positives = ground_truth_pairs(descriptor_ground_truth[descriptor_ground_truth["split"] == split])
    runs = {"ensemble": (query_descriptors, reference_descriptors)}
    ablation = {}
    for key, query in submissions.items():
        if key.startswith("ablation_"):
            ablation[key[len("ablation_"): -len("_query_descriptors")]] = query
        elif key.endswith("_query_descriptors"):
            name = key[: -len("_query_descriptors")]
            runs[name] = (query, submissions[f"{name}_reference_descriptors"])
    metrics: dict = {"split": split, "methods": {}}
    if descriptor_settings:
        metrics["settings"] = descriptor_settings
    figure = Figure(figsize=(5, 4))
    axis = figure.add_subplot()
    breakdown = []
    scored = {}
    for method, (query, reference) in runs.items():
        scores, candidates = scored[method] = score_submission(query, reference, positives, video_index, split)
        metrics["methods"][method] = scores
        log.info("%s: uAP %.4f", method, scores["uAP"])
        precision, recall, _ = precision_recall_curve(candidates, positives)
        axis.plot(recall, precision, label=f"{method} (uAP {scores['uAP']:.3f})")
        breakdown += [{"method": method, **row} for row in _edit_breakdown(candidates, positives, query_edits, split)]
    axis.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02), title=f"VSC descriptor track, split {split}")
    axis.legend(loc="lower left")
    figure.tight_layout()
    table = pd.DataFrame(breakdown)
    if ablation:
        metrics["ablation"] = _ablation(ablation, runs["ensemble"][1], scored["ensemble"], query_video_scores, positives, query_edits, video_index, split)
    return metrics, figure, table, _markdown(metrics, table)


def _ablation(variants: dict, reference, main: tuple, video_scores, positives: set, query_edits, video_index, split) -> dict:
    """The query boosters one at a time, through the same scoring: uAP, recall@1 by edit, suppressed queries.

    ``main`` is the submission's (scores, candidates), already scored: the "both" row.
    """
    suppressed = set()
    if video_scores is not None and len(video_scores):
        suppressed = set(video_scores.loc[video_scores["suppressed"].astype(bool), "video_id"])
    copied = {q for q, _ in positives}
    rows = {}
    for label, namespace in ABLATION_ROWS.items():
        if namespace is not None and namespace not in variants:
            continue
        scores, candidates = main if namespace is None else score_submission(variants[namespace], reference, positives, video_index, split)
        uses_score = namespace in (None, "video_score_only")
        gone = sorted(suppressed) if uses_score else []
        rows[label] = {
            "uAP": scores["uAP"], "query_descriptors": scores["query_descriptors"],
            "suppressed": len(gone), "true_copies_suppressed": [q for q in gone if q in copied],
            "recall@1": {r["edit"]: r["recall@1"] for r in _edit_breakdown(candidates, positives, query_edits, split)},
        }
        log.info("ablation %s: uAP %.4f", label, scores["uAP"])
    return rows


def _markdown(metrics: dict, table: pd.DataFrame) -> str:
    lines = [f"# VSC descriptor track: split {metrics['split']}", ""]
    if metrics.get("settings"):
        settings = DescriptorSettings.from_dict(metrics["settings"])
        lines += [f"The ensemble's descriptor settings ({settings.source}): {settings.summary()}. {settings.note}"
                  + (" The tuner's table: `tuning_report.md`." if settings.source in ("tuned", "fallback") else ""), ""]
    lines += ["| method | uAP | query descr. | reference descr. | dim | positives retrieved |", "|---|---|---|---|---|---|"]
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
    lines += _ablation_markdown(metrics.get("ablation") or {})
    return "\n".join(lines) + "\n"


def _ablation_markdown(ablation: dict) -> list[str]:
    if not ablation:
        return []
    lines = ["", "## Query boosters (ablation: the ensemble's queries, one booster at a time)", "",
             "| variant | uAP | query descr. | queries suppressed | true copies among them |", "|---|---|---|---|---|"]
    for label, row in ablation.items():
        copies = ", ".join(row["true_copies_suppressed"]) or "none"
        lines.append(f"| {label} | {row['uAP']:.4f} | {row['query_descriptors']} | {row['suppressed']} | {copies} |")
    edits = sorted({e for row in ablation.values() for e in row["recall@1"]})
    labels = list(ablation)
    lines += ["", "### recall@1 by edit, per variant", "", "| edit | " + " | ".join(labels) + " |", "|---" * (len(labels) + 1) + "|"]
    for edit in edits:
        values = [ablation[label]["recall@1"].get(edit, math.nan) for label in labels]
        lines.append(f"| {edit} | " + " | ".join("-" if pd.isna(v) else f"{v:.3f}" for v in values) + " |")
    return lines


def track_vsc_metrics(metrics: dict) -> dict:
    """The uAP of the submission, of each baseline and of each ablation row as MLflow metrics (vsc.ensemble.uAP, vsc.ablation.both.uAP)."""
    return as_metrics(figures(dict(metrics["methods"]) | {"ablation": metrics.get("ablation") or {}}, keep={"uAP"}))
