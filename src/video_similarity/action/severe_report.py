"""The severe report: encoders x settings (top-1), each encoder's rank per setting, accuracy against sample size."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure


def ranks(results: pd.DataFrame) -> pd.Series:
    """Each row's rank among the encoders of its setting and method (1 = best top-1; ties share the better rank)."""
    if results.empty:
        return pd.Series([], dtype="Int64")
    return results.groupby(["setting", "method"])["top1"].rank(ascending=False, method="min").astype("Int64")


def _pivot(results: pd.DataFrame, value: str) -> pd.DataFrame:
    table = results.pivot_table(index="encoder", columns="setting", values=value, aggfunc="first")
    order = list(dict.fromkeys(results["setting"]))
    return table[[c for c in order if c in table.columns]]


def _table(frame: pd.DataFrame, fmt) -> list[str]:
    lines = ["| encoder | " + " | ".join(frame.columns) + " |", "|---" * (len(frame.columns) + 1) + "|"]
    for encoder, row in frame.iterrows():
        lines.append(f"| {encoder} | " + " | ".join(fmt(v) for v in row) + " |")
    return lines


def markdown(results: pd.DataFrame, features: dict, config, overlap: dict[str, int]) -> str:
    pct = lambda v: "n/a" if pd.isna(v) else f"{100 * v:.1f}"  # noqa: E731
    lines = ["# SEVERE-style downstream evaluation", "",
             "Top-1 (%) of each encoder per setting, on each dataset's group-held-out test split "
             f"(test fraction {config.test_fraction}, split seed {config.split_seed}; training subsets class-balanced with seed {config.subset_seed}).", ""]
    settings = {s.name: s for s in config.all_settings()}
    lines += ["| setting | dataset | classes | training videos | test videos | chance |", "|---|---|---|---|---|---|"]
    for name, rows in results[results["method"] == "linear"].groupby("setting", sort=False):
        row = rows.iloc[0]
        classes = ", ".join(settings[name].classes) if settings[name].classes else "all"
        lines.append(f"| {name} | {row['dataset']} | {row['classes']} ({classes}) | {row['train_videos']} | {row['test_videos']} | {pct(row['chance'])} |")
    for method, title in (("linear", "Linear probe on frozen features"), ("finetune", "Fine-tuned end to end")):
        part = results[results["method"] == method]
        if part.empty:
            continue
        lines += ["", f"## {title}: top-1 (%)", ""] + _table(_pivot(part, "top1"), pct)
        lines += ["", f"## {title}: rank per setting (1 = best)", ""] + _table(_pivot(part, "rank"), lambda v: "" if pd.isna(v) else str(int(v)))
    lines += ["", "## Encoders", "", "| encoder | builder | weights | options |", "|---|---|---|---|"]
    for name, info in features["encoders"].items():
        stamp = info["stamp"]
        digest = f" (sha256 {stamp['weights_sha256'][:12]})" if stamp.get("weights_sha256") else ""
        lines.append(f"| {name} | {info['builder']} | {info['weights']}{digest} | {stamp.get('options') or ''} |")
    if overlap:
        lines += ["", "Test videos a trained encoder saw in its own training: " + ", ".join(f"{k} {v}" for k, v in overlap.items()) + "."]
    failed = {f"{d}/{e}": len(v["failed"]) for d, encs in features["datasets"].items() for e, v in encs.items() if v["failed"]}
    if failed:
        lines += ["", "Videos an encoder could not encode (left out): " + ", ".join(f"{k} {v}" for k, v in failed.items()) + "."]
    return "\n".join(lines) + "\n"


def sample_size_figure(results: pd.DataFrame) -> Figure:
    """Linear-probe top-1 against the number of training videos, one line per encoder."""
    figure = Figure(figsize=(6, 4), constrained_layout=True)
    ax = figure.subplots()
    sized = results[(results["method"] == "linear") & results["sample_size"].notna()]
    for encoder, rows in sized.groupby("encoder", sort=False):
        rows = rows.sort_values("train_videos")
        ax.plot(rows["train_videos"], 100 * rows["top1"], marker="o", label=encoder)
    if not sized.empty:
        ax.axhline(100 * sized["chance"].mean(), color="grey", linestyle=":", label="chance")
        ax.set_xscale("log")
        ax.legend(fontsize=7)
    ax.set_xlabel("training videos (class-balanced)")
    ax.set_ylabel("top-1 (%)")
    ax.set_title("Linear probe against sample size")
    return figure
