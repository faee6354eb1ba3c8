"""The retrieval results table (markdown and JSON) with published anchors as reference rows."""

from __future__ import annotations

FIVR_TASKS = ("DSVR", "CSVR", "ISVR")
CC_WEB_VARIANTS = ("cc_web", "cc_web_star", "cc_web_c", "cc_web_star_c")
FRAME_LEVEL = ("chamfer", "symmetric_chamfer", "topk_chamfer")

#: Published figures (evaluation spec section 4), DSVR/CSVR/ISVR mAP.
FIVR_ANCHORS = [
    {"method": "TCA_c", "dataset": "FIVR-200K", "DSVR": 0.570, "CSVR": 0.553, "ISVR": 0.473},
    {"method": "TCA_f", "dataset": "FIVR-200K", "DSVR": 0.877, "CSVR": 0.830, "ISVR": 0.703},
    {"method": "ViSiL_f", "dataset": "FIVR-200K", "DSVR": 0.843, "CSVR": 0.797, "ISVR": 0.660},
    {"method": "ViSiL_v", "dataset": "FIVR-200K", "DSVR": 0.892, "CSVR": 0.841, "ISVR": 0.702},
    {"method": "DnS (frame)", "dataset": "FIVR-200K", "DSVR": 0.921, "CSVR": 0.875, "ISVR": 0.741},
    {"method": "ResNet-50 4-stage iMAC, whitened, video-level", "dataset": "FIVR-5K", "DSVR": 0.692, "CSVR": 0.700, "ISVR": 0.651},
    {"method": "VVS", "dataset": "FIVR-5K", "DSVR": 0.744, "CSVR": 0.752, "ISVR": 0.705},
    {"method": "ViSiL_v (about)", "dataset": "FIVR-5K", "DSVR": 0.880, "CSVR": 0.869, "ISVR": 0.777},
]
#: The user's own FIVR-5K runs without training (seeds/000, 2022-06-14), video-level / frame-level.
NOTES_ANCHORS = [
    {"method": "notes: resnet50 avgpool, video-level", "dataset": "FIVR-5K", "DSVR": 0.3900, "CSVR": 0.4056, "ISVR": 0.3869},
    {"method": "notes: resnet50 avgpool, frame-level", "dataset": "FIVR-5K", "DSVR": 0.7221, "CSVR": 0.7204, "ISVR": 0.6677},
    {"method": "notes: resnet50 rmac, video-level", "dataset": "FIVR-5K", "DSVR": 0.4182, "CSVR": 0.4365, "ISVR": 0.4135},
    {"method": "notes: resnet50 rmac, frame-level", "dataset": "FIVR-5K", "DSVR": 0.7799, "CSVR": 0.7774, "ISVR": 0.7179},
    {"method": "notes: x3d_s 13x6 160, video-level", "dataset": "FIVR-5K", "DSVR": 0.4509, "CSVR": 0.4466, "ISVR": 0.4424},
    {"method": "notes: x3d_s 13x6 160, frame-level", "dataset": "FIVR-5K", "DSVR": 0.7542, "CSVR": 0.7314, "ISVR": 0.6671},
    {"method": "notes: x3d_m 16x5 224, video-level", "dataset": "FIVR-5K", "DSVR": 0.4581, "CSVR": 0.4497, "ISVR": 0.4327},
    {"method": "notes: x3d_m 16x5 224, frame-level", "dataset": "FIVR-5K", "DSVR": 0.7421, "CSVR": 0.7087, "ISVR": 0.6616},
    {"method": "notes: slow_r50 8x8 224, video-level", "dataset": "FIVR-5K", "DSVR": 0.4073, "CSVR": 0.4009, "ISVR": 0.3935},
    {"method": "notes: slow_r50 8x8 224, frame-level", "dataset": "FIVR-5K", "DSVR": 0.7247, "CSVR": 0.6980, "ISVR": 0.6339},
]


def metric_columns(benchmark: str) -> tuple[str, ...]:
    return FIVR_TASKS if benchmark == "fivr" else CC_WEB_VARIANTS


def frame_vs_video(rows: list[dict], column: str = "DSVR") -> dict:
    """Per encoder: the best frame-level similarity against video-level on ``column``, and the gap."""
    by_encoder: dict[str, dict] = {}
    for row in rows:
        if row.get(column) is None:
            continue
        entry = by_encoder.setdefault(row["encoder"], {})
        if row["similarity"] == "video_level":
            entry["video_level"] = row[column]
        elif row["similarity"] in FRAME_LEVEL and row[column] > entry.get("best_frame_level", (None, -1.0))[1]:
            entry["best_frame_level"] = (row["similarity"], row[column])
    out = {}
    for encoder, entry in by_encoder.items():
        if "video_level" in entry and "best_frame_level" in entry:
            method, value = entry["best_frame_level"]
            out[encoder] = {"video_level": entry["video_level"], "frame_level": value, "frame_method": method, "gain": value - entry["video_level"]}
    return out


def _fmt(value) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def results_markdown(results: dict) -> str:
    """The table a user pastes next to the papers': one row per encoder x similarity, then references."""
    benchmark, columns = results["benchmark"], metric_columns(results["benchmark"])
    lines = [f"# Retrieval results: {results['title']}", ""]
    lines += [f"- {note}" for note in results["notes"]] + [""]
    lines += ["| encoder | weights | similarity | " + " | ".join(columns) + " |", "|---|---|---|" + "---:|" * len(columns)]
    for row in results["rows"]:
        options = ", ".join(f"{k}={v}" for k, v in (row.get("options") or {}).items())
        encoder = f"{row['encoder']} ({options})" if options else row["encoder"]
        lines.append(f"| {encoder} | {row['weights']} | {row['similarity']} | " + " | ".join(_fmt(row[c]) for c in columns) + " |")
    gaps = results.get("frame_vs_video") or {}
    if gaps:
        column = "DSVR" if benchmark == "fivr" else "cc_web"
        lines += ["", f"## Frame-level against video-level similarity ({column})", "",
                  "| encoder | video-level | best frame-level | method | gain |", "|---|---:|---:|---|---:|"]
        for encoder, g in gaps.items():
            lines.append(f"| {encoder} | {g['video_level']:.4f} | {g['frame_level']:.4f} | {g['frame_method']} | {g['gain']:+.4f} |")
    if results.get("anchors"):
        lines += ["", "## Reference rows (published, and the user's notes; not computed here)", "",
                  "| method | dataset | " + " | ".join(columns) + " |", "|---|---|" + "---:|" * len(columns)]
        for row in results["anchors"]:
            lines.append(f"| {row['method']} | {row['dataset']} | " + " | ".join(_fmt(row[c]) for c in columns) + " |")
    return "\n".join(lines) + "\n"


def tradeoff_figure(curves: dict, columns: tuple[str, ...]):
    """One panel per metric: mAP against the share of the database re-ranked per query (log scale), a line per encoder."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(columns), figsize=(4.2 * len(columns) + 2.6, 3.8), sharey=True, squeeze=False)
    colours = plt.get_cmap("tab20").colors
    for ax, column in zip(axes[0], columns):
        for k, (encoder, curve) in enumerate(curves.items()):
            points = [p for p in curve["points"] if p.get(column) is not None]
            ax.plot([p["fraction"] for p in points], [p[column] for p in points], marker="o", markersize=3, color=colours[k % len(colours)],
                    label=f"{encoder} ({curve['method']})")
        ax.set_xscale("log")
        ax.set_xlabel("share of the database re-ranked per query")
        ax.set_title(f"{column} mAP")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("mAP")
    if curves:
        axes[0][-1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    else:
        axes[0][0].text(0.5, 0.5, "re-ranking is off (retrieval.similarity.rerank_fraction: null)", ha="center", transform=axes[0][0].transAxes)
    fig.suptitle("Prefilter (video-level) + re-rank (frame-level): mAP against the re-ranked share (DnS trade-off)")
    fig.tight_layout()
    return fig
