"""What the matching report shows beyond segment AP: recall of copied seconds by edit and by length, and pairs drawn with their boxes.

Recall of copied seconds: for one ground-truth segment, the share of its query
span that the predictions of the same (query, reference) pair cover (their
union; every prediction, whatever its score). Grouped by the query's edits (a
query with two edits counts in both rows) and by the segment's length.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

LENGTH_BINS = ((0.0, 5.0, "<= 5 s"), (5.0, 10.0, "5-10 s"), (10.0, float("inf"), "> 10 s"))


def _covered(intervals: list[tuple[float, float]], start: float, end: float) -> float:
    """Length of [start, end) covered by the union of ``intervals``."""
    total, reach = 0.0, start
    for a, b in sorted(intervals):
        a, b = max(a, reach), min(b, end)
        if b > a:
            total += b - a
            reach = b
    return total


def segment_recall(ground_truth: pd.DataFrame, predictions: pd.DataFrame) -> pd.DataFrame:
    """One row per ground-truth segment: its ids, length and the share of its query seconds that the pair's predictions cover."""
    by_pair: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for q, r, a, b in predictions[["query_id", "ref_id", "query_start", "query_end"]].itertuples(index=False):
        by_pair.setdefault((str(q), str(r)), []).append((float(a), float(b)))
    rows = []
    for g in ground_truth.itertuples(index=False):
        length = float(g.query_end) - float(g.query_start)
        covered = _covered(by_pair.get((str(g.query_id), str(g.ref_id)), []), float(g.query_start), float(g.query_end))
        rows.append({"query_id": str(g.query_id), "ref_id": str(g.ref_id), "length": length, "recall": covered / length if length > 0 else 0.0})
    return pd.DataFrame(rows, columns=["query_id", "ref_id", "length", "recall"])


def _edit_names(edits: str | None) -> list[str]:
    return [e for e in (edits or "").split(";") if e] or ["none"]


def recall_breakdown(recalls: dict[str, pd.DataFrame], query_edits: pd.DataFrame | None) -> pd.DataFrame:
    """Mean recall of copied seconds per localiser, by edit and by segment length (rows: group, segments, one column per localiser)."""
    edits = {} if query_edits is None or query_edits.empty else dict(zip(query_edits["query_id"].astype(str), query_edits["edits"]))
    groups: dict[str, list[int]] = {}
    first = next(iter(recalls.values()))
    for i, (query_id, length) in enumerate(zip(first["query_id"], first["length"])):
        for name in _edit_names(edits.get(query_id)):
            groups.setdefault(f"edit: {name}", []).append(i)
        label = next(text for lo, hi, text in LENGTH_BINS if lo < length <= hi or (lo == 0 and length <= hi))
        groups.setdefault(f"length: {label}", []).append(i)
    rows = []
    for group in sorted(groups, key=lambda g: (not g.startswith("length"), g)):
        index = groups[group]
        rows.append({"group": group, "segments": len(index),
                     **{name: round(float(table["recall"].to_numpy()[index].mean()), 4) for name, table in recalls.items()}})
    return pd.DataFrame(rows)


def draw_pairs(pairs: list[tuple[str, str, np.ndarray, tuple[float, float], tuple[float, float]]], ground_truth: pd.DataFrame,
               predictions: pd.DataFrame, title: str) -> Figure:
    """Each pair's similarity matrix (seconds on both axes) with the ground-truth boxes (green) and the predicted ones (red, with scores)."""
    n = max(1, len(pairs))
    fig = Figure(figsize=(3.2 * n, 3.4), constrained_layout=True)
    axes = fig.subplots(1, n, squeeze=False)[0]
    for ax, (query_id, ref_id, sims, (q0, q1), (r0, r1)) in zip(axes, pairs):
        ax.imshow(sims, cmap="magma", extent=(r0, r1, q1, q0), aspect="auto", interpolation="nearest")
        for rows, color in ((ground_truth, "lime"), (predictions, "red")):
            sel = rows[(rows["query_id"].astype(str) == query_id) & (rows["ref_id"].astype(str) == ref_id)]
            for m in sel.itertuples(index=False):
                ax.add_patch(_box(m, color))
                if color == "red":
                    ax.text(m.ref_start, m.query_start, f"{m.score:.2f}", color="red", fontsize=7, va="bottom")
        ax.set_title(f"{query_id} / {ref_id}", fontsize=8)
        ax.set_xlabel("reference (s)", fontsize=8)
        ax.set_ylabel("query (s)", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in axes[len(pairs):]:
        ax.axis("off")
    fig.suptitle(title, fontsize=9)
    return fig


def _box(m, color: str):
    from matplotlib.patches import Rectangle

    return Rectangle((m.ref_start, m.query_start), m.ref_end - m.ref_start, m.query_end - m.query_start, fill=False, edgecolor=color,
                     linewidth=1.5, linestyle="-" if color == "lime" else "--")


def pr_figure(curves: dict[str, tuple[np.ndarray, np.ndarray, float]]) -> Figure:
    """Segment precision against recall per localiser (the official curve: a point where recall grew)."""
    fig = Figure(figsize=(5, 4), constrained_layout=True)
    ax = fig.subplots()
    for name, (precision, recall, ap) in curves.items():
        ax.step(np.r_[0.0, recall], np.r_[precision[:1] if len(precision) else [1.0], precision], where="pre", label=f"{name} (segment AP {ap:.3f})")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("recall (sqrt of query x reference)")
    ax.set_ylabel("precision")
    ax.legend(fontsize=8)
    return fig
