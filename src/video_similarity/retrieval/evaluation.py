"""Scoring a retrieval run: every similarity file through the benchmark's evaluator, with what the run could not see."""

from __future__ import annotations

import json
from pathlib import Path


def score_similarities(similarities: dict, ground_truth: dict, features: dict, ingest_report: dict, all_db: str) -> dict:
    """The results of every encoder x similarity file: the benchmark's mAPs (the evaluator commands' code), what was
    missing or failed, the frame-level against video-level gaps and the published anchors."""
    from video_similarity.retrieval.report import FIVR_ANCHORS, NOTES_ANCHORS, frame_vs_video, metric_columns

    benchmark = ground_truth["benchmark"]
    rows = []
    for entry in similarities.values():
        scores = json.loads(Path(entry["path"]).read_text())
        metrics = benchmark_metrics(scores, ground_truth, ingest_report, all_db, entry["videos_without_features"])
        info = features[entry["encoder"]]
        rows.append({
            "encoder": entry["encoder"], "weights": info["weights"], "options": info.get("options") or {}, "similarity": entry["similarity"],
            **{c: None if metrics[c] is None else float(metrics[c]) for c in metric_columns(benchmark)},
            "n_queries": metrics.get("n_queries"), "similarities_file": entry["path"],
        })
    counts = ingest_report["counts"]
    missing = sum(counts["missing"][r] for r in ("query", "database"))
    listed = len(set(ground_truth["queries"]) | set(ground_truth["database"]))  # FIVR-5K: a query is in the database too
    # found but without features: failed to decode (preprocess report) or to encode (feature manifest)
    failed = sorted({v for entry in similarities.values() for v in entry["videos_without_features"]})
    notes = [
        f"benchmark {benchmark}; {ingest_report['lists']}",
        f"videos missing from the folder: {missing} of {listed} listed"
        + (f" (e.g. {', '.join((ingest_report['missing_videos']['query'] + ingest_report['missing_videos']['database'])[:5])})" if missing else ""),
        f"videos found but without features (failed to decode or encode, see the preprocess report and feature manifest): {len(failed)}"
        + (f" ({', '.join(failed[:5])})" if failed else ""),
    ]
    if benchmark == "fivr":
        notes.append(
            "all_db convention: " + ("'all' (database + queries of the subset; missing videos count as misses)" if all_db == "all"
                                     else "'available only' (all_db restricted to videos that were decoded, as ViSiL does)")
        )
    reranked = [entry["rerank"] for entry in similarities.values() if entry.get("rerank")]
    if reranked:
        r = reranked[0]
        notes.append(f"'re-ranked' rows (Distill-and-Select): every pair scored video-level (mean-pooled rows), then the frame-level similarity "
                     f"only for each query's top {r['fraction']:g} of the database, at least {r['top_n']} videos: {r['videos']} of "
                     f"{r['database']} per query here (features stored as {r['storage']}); the others rank below in video-level order")
    notes.append("weights 'none (random init ...)' means no local checkpoint was configured: figures show the pipeline, not the published model")
    results = {
        "benchmark": benchmark,
        "title": f"{benchmark.upper()} ({ground_truth.get('subset', 'all')})",
        "all_db": all_db if benchmark == "fivr" else None,
        "missing_videos": missing,
        "failed_videos": failed,
        "notes": notes,
        "rows": rows,
        "frame_vs_video": frame_vs_video(rows, "DSVR" if benchmark == "fivr" else "cc_web"),
        "anchors": FIVR_ANCHORS + NOTES_ANCHORS if benchmark == "fivr" else [],
    }
    return results


def benchmark_metrics(scores: dict, ground_truth: dict, ingest_report: dict, all_db: str, without_features) -> dict:
    """One similarity mapping's figures by the benchmark's evaluator (FIVR: DSVR / CSVR / ISVR mAP; CC_WEB_VIDEO: its four mAPs)."""
    if ground_truth["benchmark"] == "fivr":
        from video_similarity.metrics.fivr import evaluate_fivr

        available = None
        if all_db == "available":
            everything = set(ground_truth["queries"]) | set(ground_truth["database"])
            available = everything - set(without_features) - set(_missing(ingest_report))
        return evaluate_fivr(scores, ground_truth["annotation"], ground_truth["queries"], ground_truth["database"], available=available)
    from video_similarity.metrics.cc_web import evaluate_cc_web, load_ground_truth

    return evaluate_cc_web(scores, load_ground_truth(ground_truth["ground_truth_file"]))


def _missing(ingest_report: dict) -> list[str]:
    missing = ingest_report.get("missing_videos", {})
    return list(missing.get("query", [])) + list(missing.get("database", []))
