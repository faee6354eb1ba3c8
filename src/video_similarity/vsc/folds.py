"""The training split folded for tuning: folds of references, each with the queries that copy them.

In fold k the tuner searches fold k's references with fold k's queries, and
every other training reference is what the evaluated split will see from the
training split at inference: the noise bank of score normalisation and the
frames the PCA is fitted on. Every query is scored in exactly one fold
(cross-validation over queries), and nothing of the evaluated split is read.

With ``holdout``, fold 0 is also kept from everything that trains on the split
(the trained ensemble members, the video-score model): their embeddings and
scores of fold 0 are out of sample, so the tuner judges them there alone.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Fold:
    references: tuple[str, ...]
    queries: tuple[str, ...]


@dataclass(frozen=True)
class TuningFolds:
    """The folds of one split, or none and the reason (``reason``) when the split cannot be tuned on."""

    split: str
    folds: tuple[Fold, ...]
    holdout: bool  # fold 0 is kept from training (trained members, the video score)
    reason: str | None = None
    sampled: str | None = None  # how the split was sampled down, if it was

    @property
    def usable(self) -> bool:
        return len(self.folds) >= 2

    def held_out(self) -> set[str]:
        """Videos no model may train on (fold 0's references and queries, when ``holdout``)."""
        if not (self.holdout and self.usable):
            return set()
        return set(self.folds[0].references) | set(self.folds[0].queries)

    def videos(self) -> tuple[list[str], list[str]]:
        """(references, queries) of every fold."""
        return ([r for f in self.folds for r in f.references], [q for f in self.folds for q in f.queries])

    def to_dict(self) -> dict:
        return {"split": self.split, "holdout": self.holdout, "reason": self.reason, "sampled": self.sampled,
                "folds": [{"references": list(f.references), "queries": list(f.queries)} for f in self.folds]}

    @classmethod
    def from_dict(cls, data: dict) -> "TuningFolds":
        folds = tuple(Fold(tuple(f["references"]), tuple(f["queries"])) for f in data.get("folds") or [])
        return cls(data["split"], folds, bool(data.get("holdout")), data.get("reason"), data.get("sampled"))


def plan_folds(
    split: str,
    references: list[str],
    queries: list[str],
    positives: set[tuple[str, str]],
    n_folds: int,
    holdout: bool,
    seed: int,
    max_queries: int | None = None,
    max_references: int | None = None,
) -> TuningFolds:
    """Deal the split's references into ``n_folds`` folds, balanced by the copies they hold; queries follow.

    A query that copies references goes to the fold of the one it copies most
    (ties: the first by id); a query without a copy is dealt to the fold with
    the fewest queries. Fewer copied references than two folds, or no ground
    truth, gives no folds and the reason. ``max_queries`` samples the queries
    (copies and copy-free ones alike) of a large split first; ``max_references``
    then the references that no kept query copies.
    """
    rng = np.random.default_rng(seed)
    references, queries = sorted(set(references)), sorted(set(queries))
    known_refs, known_queries = set(references), set(queries)
    pairs = sorted((q, r) for q, r in positives if q in known_queries and r in known_refs)
    sampled = []
    if max_queries is not None and len(queries) > max_queries:
        keep = set(rng.choice(queries, size=max_queries, replace=False).tolist())
        sampled.append(f"{max_queries} of {len(queries)} queries")
        queries = [q for q in queries if q in keep]
        pairs = [(q, r) for q, r in pairs if q in keep]
    if max_references is not None and len(references) > max_references:
        needed = {r for _, r in pairs}
        spare = [r for r in references if r not in needed]
        room = max(0, max_references - len(needed))
        kept = set(rng.choice(spare, size=min(room, len(spare)), replace=False).tolist()) if room else set()
        sampled.append(f"{len(needed) + len(kept)} of {len(references)} references (every copied one)")
        references = sorted(needed | kept)
    sampled = f"{', '.join(sampled)}, drawn with seed {seed}" if sampled else None
    if not pairs:
        return TuningFolds(split, (), holdout, f"split {split!r} has no ground-truth copy among its indexed videos", sampled)
    copies = Counter(r for _, r in pairs)
    copied = sorted(copies)
    n = min(int(n_folds), len(copied))
    if n < 2:
        return TuningFolds(split, (), holdout, f"split {split!r} has copies of only {len(copied)} reference: folds need two", sampled)
    # copied references first, most copied first (a seeded order among equals), dealt in snake order
    order = sorted(copied, key=lambda r: (-copies[r], rng.random()))
    others = [references[i] for i in rng.permutation(len(references)) if references[i] not in copies]
    fold_of: dict[str, int] = {}
    for i, ref in enumerate(order + others):
        lap, pos = divmod(i, n)
        fold_of[ref] = pos if lap % 2 == 0 else n - 1 - pos
    by_query: dict[str, Counter] = {}
    for q, r in pairs:
        by_query.setdefault(q, Counter())[r] += 1
    query_fold = {q: fold_of[min(c, key=lambda r: (-c[r], r))] for q, c in by_query.items()}
    sizes = Counter(query_fold.values())
    for q in (queries[i] for i in rng.permutation(len(queries))):
        if q not in query_fold:
            query_fold[q] = min(range(n), key=lambda k: (sizes[k], k))
            sizes[query_fold[q]] += 1
    folds = tuple(
        Fold(tuple(sorted(r for r, k in fold_of.items() if k == f)), tuple(sorted(q for q, k in query_fold.items() if k == f)))
        for f in range(n)
    )
    return TuningFolds(split, folds, holdout, None, sampled)
