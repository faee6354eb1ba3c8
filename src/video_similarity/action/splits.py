"""The evaluation protocols of the TVN report, named in every report.

* ``random``: the notes' random 85/15 split, per class. Clips of one group
  (one long source video) land on both sides: it leaks, and says so.
* ``group``: 85/15 of the group numbers held out for every class, so no group
  is on both sides.
* ``logo``: leave-one-group-out, one fold per group number (25 for UCF50), the
  protocol of the published UCF50 figures.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

PROTOCOLS = ("random", "group", "logo")


@dataclass(frozen=True)
class Fold:
    name: str  # "random", "group", or "logo-g07"
    train: tuple[str, ...]
    test: tuple[str, ...]
    leaks_groups: bool  # some group has clips on both sides


def random_split(videos: pd.DataFrame, test_fraction: float = 0.15, seed: int = 0) -> Fold:
    """Per class, a random ``test_fraction`` of its clips (at least one when the class has two or more)."""
    rng = np.random.default_rng(seed)
    test = []
    for _, rows in videos.groupby("class_name", sort=True):
        ids = rows["video_id"].to_numpy()
        n = min(len(ids) - 1, max(1, round(test_fraction * len(ids)))) if len(ids) > 1 else 0
        test += rng.choice(ids, size=n, replace=False).tolist()
    return _fold("random", videos, set(test))


def group_split(videos: pd.DataFrame, test_fraction: float = 0.15, seed: int = 0) -> Fold:
    """A random ``test_fraction`` of the group numbers (at least one) is the test side, for every class."""
    groups = np.array(sorted(videos["group"].unique()))
    if len(groups) < 2:
        raise ValueError("a group-held-out split needs at least two groups")
    n = min(len(groups) - 1, max(1, round(test_fraction * len(groups))))
    held = set(np.random.default_rng(seed).choice(groups, size=n, replace=False).tolist())
    return _fold("group", videos, set(videos.loc[videos["group"].isin(held), "video_id"]))


def leave_one_group_out(videos: pd.DataFrame) -> list[Fold]:
    """One fold per group number: that group's clips of every class are the test side."""
    return [_fold(f"logo-g{g:02d}", videos, set(videos.loc[videos["group"] == g, "video_id"])) for g in sorted(videos["group"].unique())]


def _fold(name: str, videos: pd.DataFrame, test: set[str]) -> Fold:
    ids = videos["video_id"].tolist()
    train_groups = {(c, g) for v, c, g in zip(ids, videos["class_name"], videos["group"]) if v not in test}
    test_groups = {(c, g) for v, c, g in zip(ids, videos["class_name"], videos["group"]) if v in test}
    return Fold(name, tuple(v for v in ids if v not in test), tuple(v for v in ids if v in test), bool(train_groups & test_groups))
