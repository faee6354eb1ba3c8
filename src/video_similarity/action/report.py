"""The action_recognition report: figures per protocol, the published UCF50 figures beside them, and the plots."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure  # a bare Figure: no pyplot state, no GUI backend

#: The notes' comparison table (UCF50), each figure with its protocol and source.
PUBLISHED_UCF50 = (
    (76.90, "leave-one-group-out (25 folds)", "Reddy and Shah, MVAP 2012"),
    (57.90, "5-fold group-wise cross-validation", "Sadanand and Corso, CVPR 2012"),
    (76.40, "video-wise cross-validation (leaks groups)", "Sadanand and Corso, CVPR 2012"),
    (81.03, "2/3 train, 1/3 test per class (group separation not stated)", "Todorovic, ECCV 2012"),
    (73.70, "leave-one-group-out (25 folds)", "Solmaz et al., MVAP 2012"),
    (72.60, "leave-one-group-out (25 folds)", "Kliper-Gross et al., ECCV 2012"),
)
#: What the TVN paper gives for TVN-1 (Table 3, Moments in Time; it reports no UCF50 figure).
TVN_PAPER_TVN1 = {"dataset": "Moments in Time", "top1": 23.1, "cpu_ms": 37, "gpu_ms": 10, "gflops": 13}

PROTOCOL_NAMES = {
    "random": "random 85/15 per class (the notes'; clips of one group on both sides: leaks)",
    "group": "group-held-out 85/15 (no group on both sides)",
    "logo": "leave-one-group-out (one fold per group; the published UCF50 protocol)",
}


def _pct(x: float) -> str:
    return "n/a" if x is None or x != x else f"{100 * x:.1f} %"


def markdown(metrics: dict) -> str:
    m = metrics
    lines = [f"# Action recognition: {m['network']} on {m['dataset']}", "",
             f"{m['videos']} videos of {m['num_classes']} classes in {m['groups']} groups; sampling {m['sampling']}; "
             f"chance (most frequent class) {_pct(m['chance'])}.", "",
             "| protocol | folds | test videos | clip top-1 | video top-1 | mean per-class | note |", "|---|---|---|---|---|---|---|"]
    for name, p in m["protocols"].items():
        note = "leaks groups: clips of one source video on both sides" if p["leaks_groups"] else ""
        lines.append(f"| {PROTOCOL_NAMES[name]} | {p['folds']} | {p['videos']} | {_pct(p['clip_accuracy'])} | {_pct(p['video_accuracy'])} "
                     f"| {_pct(p['mean_class_accuracy'])} | {note} |")
    cost = m["cost"]
    lines += ["", "## Cost", "",
              f"- parameters: {cost['parameters']:,} ({cost['parameters_body']:,} before the classifier)",
              f"- multiply-accumulates per clip: {cost['macs'] / 1e9:.2f} G at {cost['input']} "
              f"({cost['macs_notes_input'] / 1e9:.2f} G at the notes' 3x8x200x200)",
              f"- CPU latency per clip: {cost['cpu_ms_per_clip']:.1f} ms at {cost['input']} ({cost['threads']} thread(s), median of "
              f"{cost['runs']} runs; `make bench` times the notes' input beside the paper's 37 ms)", "",
              "## Published figures", "",
              "UCF50 figures from the notes, with their protocols; only protocols that keep groups apart compare with the "
              "group-held-out and leave-one-group-out rows above.", "",
              "| top-1 | protocol | source |", "|---|---|---|"]
    lines += [f"| {fig:.2f} % | {protocol} | {source} |" for fig, protocol, source in PUBLISHED_UCF50]
    t = TVN_PAPER_TVN1
    lines += ["", f"The TVN paper gives no UCF50 figure; for TVN-1 it reports {t['top1']} % top-1 on {t['dataset']}, "
              f"{t['cpu_ms']} ms (CPU) / {t['gpu_ms']} ms (GPU) per clip and {t['gflops']} GFLOPs.", ""]
    if m.get("notes"):
        lines += ["## Notes", ""] + [f"- {n}" for n in m["notes"]] + [""]
    return "\n".join(lines)


def confusion_figure(confusions: dict[str, np.ndarray], classes: list[str]) -> Figure:
    """One video-level confusion matrix per protocol (leave-one-group-out: summed over its folds)."""
    figure = Figure(figsize=(5.5 * len(confusions), 5.0), constrained_layout=True)
    axes = figure.subplots(1, len(confusions), squeeze=False)[0]
    for ax, (name, matrix) in zip(axes, confusions.items()):
        rows = matrix.sum(axis=1, keepdims=True)
        shown = np.divide(matrix, rows, out=np.zeros(matrix.shape, float), where=rows > 0)
        ax.imshow(shown, vmin=0, vmax=1, cmap="Blues")
        ax.set_xticks(range(len(classes)), classes, rotation=90, fontsize=7)
        ax.set_yticks(range(len(classes)), classes, fontsize=7)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(f"{name}: video level ({int(matrix.sum())} videos)", fontsize=9)
        if len(classes) <= 20:
            for i in range(len(classes)):
                for j in range(len(classes)):
                    if matrix[i, j]:
                        ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=6, color="black" if shown[i, j] < 0.6 else "white")
    return figure


def curves_figure(histories: dict[str, list[dict]]) -> Figure:
    """Training loss and the evaluation videos' first-clip accuracy per epoch, one line per fold."""
    figure = Figure(figsize=(10, 4), constrained_layout=True)
    loss_ax, acc_ax = figure.subplots(1, 2)
    for name, history in histories.items():
        epochs = [row["epoch"] for row in history]
        loss_ax.plot(epochs, [row["loss"] for row in history], label=name)
        if any("eval_clip_accuracy" in row for row in history):
            acc_ax.plot(epochs, [row.get("eval_clip_accuracy", np.nan) for row in history], label=name)
    loss_ax.set_xlabel("epoch")
    loss_ax.set_ylabel("training loss")
    acc_ax.set_xlabel("epoch")
    acc_ax.set_ylabel("test clip accuracy (first clips)")
    acc_ax.set_ylim(0, 1)
    if len(histories) <= 8:
        loss_ax.legend(fontsize=7)
        acc_ax.legend(fontsize=7)
    return figure
