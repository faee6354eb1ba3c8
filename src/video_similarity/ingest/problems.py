"""Collecting what is wrong with a dataset without stopping on the first problem."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field

from video_similarity.errors import UserError

log = logging.getLogger(__name__)


class DatasetUnusableError(UserError, ValueError):
    """Nothing usable could be read: raised only when the run cannot go on at all."""


@dataclass(frozen=True)
class Problem:
    file: str  # the file the problem is in (or about)
    item: str  # the video id, or "line N" when the id itself is unusable
    problem: str  # what is wrong and what was done about it
    kind: str  # a stable category: missing_video, orphan_video, duplicate_id, ...


@dataclass
class ProblemLog:
    """Problems in the order found; each is also logged (the first few in full)."""

    problems: list[Problem] = field(default_factory=list)
    shown: int = 20

    def add(self, file, item, problem: str, kind: str) -> None:
        entry = Problem(str(file), str(item), problem, kind)
        self.problems.append(entry)
        if len(self.problems) <= self.shown:
            log.warning("%s [%s]: %s", entry.file, entry.item, entry.problem)
        elif len(self.problems) == self.shown + 1:
            log.warning("More problems found; the ingest report lists them all.")

    def by_kind(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for p in self.problems:
            counts[p.kind] = counts.get(p.kind, 0) + 1
        return counts

    def records(self) -> list[dict]:
        return [asdict(p) for p in self.problems]
