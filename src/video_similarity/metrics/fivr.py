"""FIVR-5K / FIVR-200K retrieval mAP (DSVR, CSVR, ISVR), as the ViSiL evaluator computes it.

Published FIVR numbers come from ViSiL's ``datasets.FIVR.evaluate``; the project's evaluation spec
(section 4) formalises its conventions, and this module follows them to the letter because they
move the numbers: positives are the *union* of the task's label lists (which overlap), CS/IS videos
are negatives for DSVR yet stay in the ranking, the query is skipped in its own ranking but stays in
its ground truth (FIVR-5K's eCrhXArKE24 lists itself under IS, so a perfect ISVR is below 1), ties
keep the insertion order of the result dict (a stable sort), and positives never returned still
count in the denominator.

Two cases ViSiL leaves undefined are resolved here, and reported rather than hidden:

- a query of the subset that is absent from the results is left out of the mean (as ViSiL does)
  and listed under ``queries_missing_from_results``; one absent from the annotation is left out
  too and listed under ``queries_missing_from_annotation`` (ViSiL would raise ``KeyError``);
- a query with no positive in ``all_db`` for a task (possible with the 'available only' variant)
  has no defined AP (ViSiL divides by zero and crashes): it is left out of that task's mean and
  listed under ``queries_without_positives[task]``; its per-query AP is ``None``.

``all_db`` is the subset's database ids plus its query ids ('all': missing videos are misses), or
that set restricted to the videos actually decoded ('available', ViSiL's own ``all_db``).

Command line::

    python -m video_similarity.metrics.fivr --annotation A --queries Q --database D \\
        --similarities S.json [--available-only IDS] [--per-query]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Iterable, Mapping

import numpy as np

TASKS: dict[str, tuple[str, ...]] = {
    "DSVR": ("ND", "DS"),
    "CSVR": ("ND", "DS", "CS"),
    "ISVR": ("ND", "DS", "CS", "IS"),
}

Annotation = dict[str, dict[str, list[str]]]
Similarities = dict[str, dict[str, float]]
PathLike = str | os.PathLike


def _read_text(path: PathLike, what: str) -> str:
    """The text of ``path``; a missing or unreadable file names itself in the error."""
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except FileNotFoundError:
        raise FileNotFoundError(f"{what} file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{what} file {path}: cannot read it ({exc})") from None


def read_json(path: PathLike, what: str):
    """Parsed JSON of ``path``; malformed JSON is a ``ValueError`` naming the file."""
    text = _read_text(path, what)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{what} file {path}: malformed JSON ({exc})") from None
    except RecursionError:
        raise ValueError(f"{what} file {path}: JSON nested too deeply to read") from None
    except ValueError as exc:  # e.g. an integer literal longer than Python converts
        raise ValueError(f"{what} file {path}: unreadable JSON ({exc})") from None


def check_annotation(annotation: object, source: str = "annotation") -> Annotation:
    """``annotation`` itself if it is ``{query: {label: [video id, ...]}}``, else ``ValueError``."""
    if not isinstance(annotation, dict):
        raise ValueError(f"{source}: expected an object {{query: {{label: [ids]}}}}")
    for query, labels in annotation.items():
        if not isinstance(labels, dict):
            kind = type(labels).__name__
            raise ValueError(f"{source}: query {query!r} maps to {kind}, not labels")
        for label, videos in labels.items():
            if not isinstance(videos, list) or not all(isinstance(v, str) for v in videos):
                raise ValueError(f"{source}: {query!r}/{label!r} is not a list of video ids")
    return annotation


def load_annotation(path: PathLike) -> Annotation:
    """The FIVR annotation JSON, ``{query: {label: [video id, ...]}}``, checked."""
    return check_annotation(read_json(path, "annotation"), f"annotation file {path}")


def read_id_list(path: PathLike) -> list[str]:
    """Ids one per line (first whitespace-separated column), blank lines ignored, order kept."""
    text = _read_text(path, "id list")
    return [line.split()[0] for line in text.splitlines() if line.strip()]


def check_similarities(similarities: object, source: str = "similarities") -> Similarities:
    """``{query: {video: float}}`` with finite scores; the inner dicts' order is kept."""
    if not isinstance(similarities, dict):
        raise ValueError(f"{source}: expected an object {{query: {{video: score}}}}")
    checked: Similarities = {}
    for query, results in similarities.items():
        if not isinstance(results, dict):
            raise ValueError(f"{source}: results of {query!r} are not an object {{video: score}}")
        row = {}
        for video, score in results.items():
            if isinstance(score, bool) or not isinstance(score, (int, float, np.number)):
                raise ValueError(f"{source}: score of {query!r} -> {video!r} is not a number")
            try:
                score = float(score)
            except OverflowError:  # an integer JSON holds but a float cannot
                raise ValueError(f"{source}: score of {query!r} -> {video!r} is too large for a float") from None
            if not math.isfinite(score):
                raise ValueError(f"{source}: score of {query!r} -> {video!r} is not finite")
            row[str(video)] = score
        checked[str(query)] = row
    return checked


def load_similarities(path: PathLike) -> Similarities:
    """A similarity JSON file ``{query_id: {video_id: score}}``, checked, in file order."""
    return check_similarities(read_json(path, "similarities"), f"similarities file {path}")


def positives(annotation_for_query: Mapping[str, Iterable[str]], task: str) -> set[str]:
    """Union of the task's label lists (they can overlap: never one label per video)."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; expected one of {sorted(TASKS)}")
    found: set[str] = set()
    for label in TASKS[task]:
        found.update(annotation_for_query.get(label, ()))
    return found


def average_precision(ranking: list[str], relevant: set[str]) -> float:
    """(1/|G|) sum over 1-based ranks k holding a relevant id of (hits up to k) / k.

    ``ranking`` is already filtered (no query, nothing outside all_db) and has no repeats;
    relevant ids missing from it are misses. AP is undefined for an empty ``relevant``
    (ViSiL divides by zero), so that is a ``ValueError``: callers decide what to do.
    """
    if not relevant:
        raise ValueError("average precision is undefined with no relevant video")
    if len(set(ranking)) != len(ranking):
        raise ValueError("the ranking repeats a video")
    is_hit = np.fromiter((video in relevant for video in ranking), dtype=bool, count=len(ranking))
    ranks = np.flatnonzero(is_hit) + 1
    if len(ranks) == 0:
        return 0.0
    precisions = np.arange(1, len(ranks) + 1) / ranks
    # cumsum adds in rank order, as the reference's running sum does (bit for bit)
    return float(np.cumsum(precisions)[-1]) / len(relevant)


def rank_results(results: Mapping[str, float], query: str, all_db: set[str]) -> list[str]:
    """Result ids by score descending, ties in insertion order, without the query or non-db ids."""
    order = sorted(results, key=results.__getitem__, reverse=True)  # sorted() is stable
    return [video for video in order if video != query and video in all_db]


def evaluate_fivr(
    similarities: Mapping[str, Mapping[str, float]],
    annotation: Mapping[str, Mapping[str, Iterable[str]]],
    queries: list[str],
    database: list[str],
    available: set[str] | None = None,
) -> dict:
    """DSVR / CSVR / ISVR mAP of ``similarities`` over the subset given by queries + database.

    ``available`` (the videos actually decoded) switches to the 'available only' variant:
    all_db is restricted to it, which shrinks the ground truth. See the module docstring for
    queries missing from the results or the annotation, and queries without positives.
    Scores must be finite (``load_similarities`` and ``check_similarities`` check).
    """
    all_db = set(database) | set(queries)
    if available is not None:
        all_db &= set(available)
    subset = list(dict.fromkeys(queries))
    missing_results = [q for q in subset if q not in similarities]
    missing_annotation = [q for q in subset if q in similarities and q not in annotation]
    # in the results' order, as the reference's loop over them (the mean's sum order)
    in_subset = set(subset)
    evaluated = [q for q in similarities if q in in_subset and q in annotation]
    if not evaluated:
        raise ValueError("no query of the subset has both results and an annotation")

    aps: dict[str, list[float]] = {task: [] for task in TASKS}
    without_positives: dict[str, list[str]] = {task: [] for task in TASKS}
    per_query: dict[str, dict[str, float | None]] = {}
    unknown = 0
    for query in evaluated:
        unknown += sum(1 for video in similarities[query] if video != query and video not in all_db)
        ranking = rank_results(similarities[query], query, all_db)
        per_query[query] = {}
        for task in TASKS:
            relevant = positives(annotation[query], task) & all_db  # the query stays in G
            if not relevant:
                without_positives[task].append(query)
                per_query[query][task] = None
                continue
            ap = average_precision(ranking, relevant)
            aps[task].append(ap)
            per_query[query][task] = ap

    result: dict = {
        task: float(np.mean(values)) if values else None for task, values in aps.items()
    }
    result.update(
        n_queries=len(evaluated),
        queries_missing_from_results=missing_results,
        queries_missing_from_annotation=missing_annotation,
        queries_without_positives=without_positives,
        all_db_convention="all" if available is None else "available",
        n_all_db=len(all_db),
        unknown_ids_ignored=unknown,
        per_query=per_query,
    )
    return result


def main(argv: list[str] | None = None) -> int:
    """CLI: print the metrics as a JSON object; unreadable or inconsistent inputs exit with 2."""
    parser = argparse.ArgumentParser(
        prog="python -m video_similarity.metrics.fivr",
        description="FIVR DSVR/CSVR/ISVR mAP, computed as ViSiL's evaluator.",
    )
    parser.add_argument("--annotation", required=True, help="FIVR annotation.json")
    parser.add_argument("--queries", required=True, help="query id list (one per line)")
    parser.add_argument("--database", required=True, help="database id list (one per line)")
    parser.add_argument("--similarities", required=True, help="JSON {query: {video: score}}")
    parser.add_argument(
        "--available-only",
        metavar="IDS_FILE",
        help="ids of the videos actually decoded: restrict all_db to them (ViSiL's all_db)",
    )
    parser.add_argument("--per-query", action="store_true", help="include per-query APs")
    args = parser.parse_args(argv)
    try:
        annotation = load_annotation(args.annotation)
        queries = read_id_list(args.queries)
        database = read_id_list(args.database)
        similarities = load_similarities(args.similarities)
        available = None
        if args.available_only is not None:
            available = set(read_id_list(args.available_only))
        result = evaluate_fivr(similarities, annotation, queries, database, available)
    except (OSError, ValueError) as exc:
        parser.error(str(exc))  # exits 2
    if not args.per_query:
        del result["per_query"]
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
