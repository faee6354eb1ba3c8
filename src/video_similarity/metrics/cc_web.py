"""CC_WEB_VIDEO mAP, four variants (CC_WEB, CC_WEB*, CC_WEB_c, CC_WEB*_c), as ViSiL computes it.

Published CC_WEB_VIDEO numbers come from ViSiL's ``datasets.CC_WEB_VIDEO.calculate_mAP``; the
project's evaluation spec (section 5) formalises it, and this module keeps its conventions because
they move the numbers: the query is *not* skipped (it is labelled E in its own set); with
``all_videos=False`` only videos annotated in the query's set take a rank, with ``all_videos=True``
every returned video does; the clean variants skip the set's excluded videos (they take no rank)
and drop them from the positive count P_i; P_i counts every positive of the set, returned or not
(one positive of set 4 is not even in the index, so a perfect system scores 0.999743); the mean
divides by the number of the 24 queries present in the results; ties keep the result dict's
insertion order (a stable sort).

Similarities are keyed by the dataset's video ids ('<set>/<name>'), translated to integer ids
through ``index``. A returned id that is not in ``index`` is not a CC_WEB_VIDEO video: ViSiL's
results never hold one (its database is the index, and it would raise ``KeyError``), so here it is
ignored in every variant, CC_WEB* included (it takes no rank), and counted in
``unknown_ids_ignored``.

Command line::

    python -m video_similarity.metrics.cc_web --ground-truth cc_web_video.json --similarities S.json
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from video_similarity.metrics.fivr import PathLike, load_similarities, read_json

POSITIVE_LABELS = frozenset("ESLMV")
# name -> (all_videos, clean), ViSiL's four calls in its order
VARIANTS: dict[str, tuple[bool, bool]] = {
    "cc_web": (False, False),
    "cc_web_star": (True, False),
    "cc_web_c": (False, True),
    "cc_web_star_c": (True, True),
}


def _int_id(value: object, what: str) -> int:
    """An integer video id from an int or a decimal string (JSON object keys are strings)."""
    if isinstance(value, bool):
        raise ValueError(f"{what}: {value!r} is not an integer video id")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    raise ValueError(f"{what}: {value!r} is not an integer video id")


@dataclass(frozen=True)
class CCWebGroundTruth:
    """The evaluation metadata: one query, one labelled set and one excluded list per query set.

    Constructed from plain containers (e.g. the JSON's), normalised to immutable ones with
    integer ids; ``video_ids`` is the reverse of ``index``. Every set must keep a positive
    after exclusion, otherwise its AP is undefined.
    """

    queries: tuple[str, ...]
    index: Mapping[str, int]
    ground_truth: tuple[Mapping[int, str], ...]
    excluded: tuple[frozenset[int], ...]
    video_ids: Mapping[int, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        queries = tuple(self.queries)
        if not all(isinstance(q, str) for q in queries):
            raise ValueError("queries must be video id strings")
        if not isinstance(self.index, Mapping):
            raise ValueError("index must map video id -> integer id")
        index = {str(k): _int_id(v, f"index[{k!r}]") for k, v in self.index.items()}
        video_ids = {v: k for k, v in index.items()}
        if len(video_ids) != len(index):
            raise ValueError("index maps two video ids to the same integer id")
        sets = list(self.ground_truth)
        excluded_lists = list(self.excluded)
        if not len(queries) == len(sets) == len(excluded_lists):
            raise ValueError(
                f"{len(queries)} queries, {len(sets)} ground-truth sets and "
                f"{len(excluded_lists)} excluded lists: they must be one per query set"
            )
        ground_truth = []
        excluded = []
        for i, (labels, left_out) in enumerate(zip(sets, excluded_lists)):
            if not isinstance(labels, Mapping):
                raise ValueError(f"ground_truth[{i}] must map integer id -> label")
            if not all(isinstance(label, str) for label in labels.values()):
                raise ValueError(f"ground_truth[{i}]: labels must be strings")
            labels = {_int_id(k, f"ground_truth[{i}]"): v for k, v in labels.items()}
            if isinstance(left_out, (str, bytes)) or not isinstance(left_out, Iterable):
                raise ValueError(f"excluded[{i}] must be a list of integer ids")
            left_out = frozenset(_int_id(v, f"excluded[{i}]") for v in left_out)
            if not any(lab in POSITIVE_LABELS and v not in left_out for v, lab in labels.items()):
                raise ValueError(
                    f"query set {i} ({queries[i]}) has no positive left after exclusion"
                )
            ground_truth.append(labels)
            excluded.append(left_out)
        object.__setattr__(self, "queries", queries)
        object.__setattr__(self, "index", index)
        object.__setattr__(self, "ground_truth", tuple(ground_truth))
        object.__setattr__(self, "excluded", tuple(excluded))
        object.__setattr__(self, "video_ids", video_ids)

    def positives(self, query_set: int, clean: bool = False) -> set[int]:
        """Positive ids of a set (labels E, S, L, M, V), without its excluded ones when clean."""
        left_out = self.excluded[query_set] if clean else frozenset()
        labels = self.ground_truth[query_set]
        return {v for v, label in labels.items() if label in POSITIVE_LABELS and v not in left_out}


def load_ground_truth(path: PathLike) -> CCWebGroundTruth:
    """``cc_web_video.json`` (queries, index, ground_truth, excluded), checked."""
    data = read_json(path, "ground-truth")
    keys = ("queries", "index", "ground_truth", "excluded")
    if not isinstance(data, dict) or any(k not in data for k in keys):
        raise ValueError(f"ground-truth file {path}: expected an object with keys {list(keys)}")
    try:
        return CCWebGroundTruth(**{k: data[k] for k in keys})
    except (TypeError, ValueError) as exc:
        raise ValueError(f"ground-truth file {path}: {exc}") from None


def query_set_ap(
    ranked: np.ndarray,
    ground_truth: CCWebGroundTruth,
    query_set: int,
    all_videos: bool,
    clean: bool,
) -> float:
    """AP of one set: sum over positive hits of hits/rank, over P_i (all the set's positives).

    ``ranked`` holds integer ids best first. Only walked videos take a rank: the set's annotated
    ones (or all with ``all_videos``), minus its excluded ones when ``clean``.
    """
    ranked = np.asarray(ranked, dtype=np.int64)
    labels = ground_truth.ground_truth[query_set]
    relevant = ground_truth.positives(query_set, clean)
    walked = np.ones(len(ranked), dtype=bool)
    if not all_videos:
        walked &= np.isin(ranked, np.fromiter(labels, dtype=np.int64, count=len(labels)))
    if clean:
        left_out = ground_truth.excluded[query_set]
        walked &= ~np.isin(ranked, np.fromiter(left_out, dtype=np.int64, count=len(left_out)))
    walked_ids = ranked[walked]
    is_hit = np.isin(walked_ids, np.fromiter(relevant, dtype=np.int64, count=len(relevant)))
    ranks = np.flatnonzero(is_hit) + 1  # 1-based ranks among the walked videos
    if len(ranks) == 0:
        return 0.0
    precisions = np.arange(1, len(ranks) + 1) / ranks
    # cumsum adds in rank order, as the reference's running sum does (bit for bit)
    return float(np.cumsum(precisions)[-1]) / len(relevant)


def evaluate_cc_web(
    similarities: Mapping[str, Mapping[str, float]], ground_truth: CCWebGroundTruth
) -> dict:
    """The four mAPs over the query sets whose query is in ``similarities``.

    Results of other keys are ignored; returned ids outside the index take no rank in any
    variant (see the module docstring). Scores must be finite (``load_similarities`` checks).
    """
    present = [i for i, q in enumerate(ground_truth.queries) if q in similarities]
    if not present:
        raise ValueError("none of the dataset's queries is in the results")
    totals = dict.fromkeys(VARIANTS, 0.0)
    unknown = 0
    for i in present:
        results = similarities[ground_truth.queries[i]]
        order = sorted(results, key=results.__getitem__, reverse=True)  # sorted() is stable
        ids = [n for n in map(ground_truth.index.get, order) if n is not None]
        unknown += len(order) - len(ids)
        ranked = np.array(ids, dtype=np.int64)
        for name, (all_videos, clean) in VARIANTS.items():
            totals[name] += query_set_ap(ranked, ground_truth, i, all_videos, clean)
    n_queries = len(set(ground_truth.queries) & set(similarities))
    result: dict = {name: total / n_queries for name, total in totals.items()}
    result.update(
        n_queries=n_queries,
        queries_missing_from_results=[q for q in ground_truth.queries if q not in similarities],
        unknown_ids_ignored=unknown,
    )
    return result


def main(argv: list[str] | None = None) -> int:
    """CLI: print the four mAPs as a JSON object; unreadable or inconsistent inputs exit with 2."""
    parser = argparse.ArgumentParser(
        prog="python -m video_similarity.metrics.cc_web",
        description="CC_WEB_VIDEO mAP (CC_WEB, CC_WEB*, and their clean variants), as ViSiL's.",
    )
    parser.add_argument("--ground-truth", required=True, help="cc_web_video.json")
    parser.add_argument("--similarities", required=True, help="JSON {query: {video: score}}")
    args = parser.parse_args(argv)
    try:
        ground_truth = load_ground_truth(args.ground_truth)
        similarities = load_similarities(args.similarities)
        result = evaluate_cc_web(similarities, ground_truth)
    except (OSError, ValueError) as exc:
        parser.error(str(exc))  # exits 2
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
