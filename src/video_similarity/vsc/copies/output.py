"""How ``kedro find-copies`` answers: a table, one JSON document or CSV rows; and with ``--report`` a figure per match."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd

from video_similarity.vsc.copies.service import FindResult, VideoResult

MATCH_FIELDS = ["ref_id", "ref_path", "query_start", "query_end", "ref_start", "ref_end", "score"]
CSV_COLUMNS = ["video", *MATCH_FIELDS]


def clock(seconds: float) -> str:
    """h:mm:ss.s"""
    tenths = int(round(float(seconds) * 10))
    hours, rest = divmod(tenths, 36000)
    minutes, rest = divmod(rest, 600)
    return f"{hours}:{minutes:02d}:{rest // 10:02d}.{rest % 10}"


def _rows(result: VideoResult) -> list[dict]:
    if result.matches is None:
        return []
    return [{k: (float(v) if k not in ("ref_id", "ref_path") else str(v)) for k, v in row.items()}
            for row in result.matches[MATCH_FIELDS].to_dict(orient="records")]


def as_json(found: FindResult) -> str:
    """``[{"video": path, "matches": [{ref_id, ref_path, query_start, query_end, ref_start, ref_end, score}]}]``; an input that
    could not be read has ``"error"`` and no matches."""
    doc = []
    for result in found.results:
        entry = {"video": result.video, "matches": _rows(result)}
        if result.error:
            entry["error"] = result.error
        doc.append(entry)
    return json.dumps(doc, indent=2)


def as_csv(found: FindResult) -> str:
    rows = [{"video": r.video, **m} for r in found.results for m in _rows(r)]
    buffer = io.StringIO()
    pd.DataFrame(rows, columns=CSV_COLUMNS).to_csv(buffer, index=False, float_format="%.3f")
    return buffer.getvalue()


def as_table(found: FindResult) -> str:
    lines = []
    for result in found.results:
        if result.error:
            continue
        n = 0 if result.matches is None else len(result.matches)
        note = " (its video score suppressed it: no copy is searched for)" if result.suppressed else ""
        lines.append(f"{result.video}: {n} copied segment{'s' if n != 1 else ''}{note}")
        if n:
            lines.append(f"  {'score':>6}  {'query':<23}  {'reference':<23}  ref_id  (path)")
            for m in _rows(result):
                lines.append(f"  {m['score']:6.3f}  {clock(m['query_start'])}-{clock(m['query_end']):<11}  "
                             f"{clock(m['ref_start'])}-{clock(m['ref_end']):<11}  {m['ref_id']}  ({m['ref_path']})")
    lines.append(f"threshold {found.threshold:.4f} ({found.localizer} localiser)")
    return "\n".join(lines)


def write_report(folder: str | Path, found: FindResult) -> Path:
    """Per match a PNG (the similarity matrix with the segment; query and reference frames at aligned seconds) and index.md."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from video_similarity.vsc.localization.registry import PairMatrices

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    refs = found.index.references.set_index("ref_id")
    lines = ["# Copies found", "", f"Threshold {found.threshold:.4f}, localiser `{found.localizer}`, copy index version "
             f"`{found.index.version}`.", ""]
    matrices = PairMatrices(found.query_frames, found.index.descriptors) if found.query_frames is not None else None
    for result in found.results:
        lines.append(f"## {result.video}")
        lines.append("")
        if result.error:
            lines += [f"Not read: {result.error}", ""]
            continue
        if result.matches is None or result.matches.empty:
            lines += ["No copied segment at or above the threshold.", ""]
            continue
        video_id = result.video_id
        lines += ["| # | reference | query | reference seconds | score | figure |", "|---|---|---|---|---|---|"]
        for k, m in enumerate(_rows(result)):
            name = f"{video_id}__{k:02d}_{m['ref_id']}.png"
            figure = _figure(plt, matrices, video_id, m, found.archives[video_id], refs.loc[m["ref_id"], "archive"])
            figure.savefig(folder / name, dpi=80)
            plt.close(figure)
            lines.append(f"| {k + 1} | {m['ref_id']} | {clock(m['query_start'])}-{clock(m['query_end'])} | "
                         f"{clock(m['ref_start'])}-{clock(m['ref_end'])} | {m['score']:.3f} | [{name}]({name}) |")
        lines.append("")
    index = folder / "index.md"
    index.write_text("\n".join(lines) + "\n")
    return index


def _frame_at(archive_path: str, second: float) -> np.ndarray | None:
    from video_similarity.frames.archive import FrameArchive

    try:
        with FrameArchive(archive_path) as archive:
            starts = np.asarray(archive.timestamps)[:, 0]
            k = int(np.clip(np.searchsorted(starts, second, side="right") - 1, 0, len(starts) - 1))
            return archive.frame(k)
    except (OSError, ValueError, KeyError):
        return None


def _figure(plt, matrices, video_id: str, match: dict, query_archive: str, ref_archive: str):
    """The pair's similarity matrix with the segment, and three aligned frame pairs (start, middle, end of the segment)."""
    figure = plt.figure(figsize=(11, 5))
    grid = figure.add_gridspec(3, 3, width_ratios=[1.4, 1, 1])
    axis = figure.add_subplot(grid[:, 0])
    if matrices is not None:
        sims = matrices(video_id, match["ref_id"])
        (qa, qb), (ra, rb) = matrices.q_rows[video_id], matrices.r_rows[match["ref_id"]]
        q_span, r_span = matrices.q_spans[qa:qb], matrices.r_spans[ra:rb]
        extent = (float(r_span[0, 0]), float(r_span[-1, 1]), float(q_span[-1, 1]), float(q_span[0, 0]))
        axis.imshow(sims, cmap="viridis", aspect="auto", extent=extent, interpolation="nearest")
        axis.add_patch(plt.Rectangle((match["ref_start"], match["query_start"]), match["ref_end"] - match["ref_start"],
                                     match["query_end"] - match["query_start"], fill=False, edgecolor="red", linewidth=2))
    axis.set_xlabel(f"reference {match['ref_id']} (s)")
    axis.set_ylabel("query (s)")
    axis.set_title(f"score {match['score']:.3f}")
    q0, q1, r0, r1 = match["query_start"], match["query_end"], match["ref_start"], match["ref_end"]
    for row, share in enumerate((0.1, 0.5, 0.9)):
        qt, rt = q0 + share * (q1 - q0), r0 + share * (r1 - r0)
        for col, (archive, t, who) in enumerate(((query_archive, qt, "query"), (ref_archive, rt, "reference"))):
            ax = figure.add_subplot(grid[row, col + 1])
            frame = _frame_at(archive, t)
            if frame is not None:
                ax.imshow(frame)
            ax.set_title(f"{who} {clock(t)}", fontsize=8)
            ax.axis("off")
    figure.tight_layout()
    return figure
