"""The copy index on disk: versions published whole, so a reader sees the old index or the new one, never a mix.

``<root>/versions/<name>/`` holds one version: ``references.csv`` (ref_id, path,
archive, origin, source_key), ``descriptors.npz`` (the score-normalised
reference rows, grouped by reference), ``index.faiss`` (over those rows) and
``manifest.json`` (the stamp of the models and settings that made it, the match
thresholds, the dataset references removed). A version is written in a
temporary folder and renamed into place; ``<root>/CURRENT`` (one line: the
version's name) is then replaced atomically. A writer holds ``<root>/.lock``;
a reader needs no lock: it reads CURRENT, then the version, and starts again in
the rare case a writer removed that version meanwhile (the two newest older
versions are kept).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from video_similarity.atomic import atomic_write, exclusive_lock
from video_similarity.descriptors import Descriptors, load_descriptors, save_descriptors
from video_similarity.errors import UserError
from video_similarity.params import SearchIndexParams, as_dict
from video_similarity.search_index import configure

CURRENT = "CURRENT"
VERSIONS = "versions"
KEEP_OLD = 2  # older versions kept for readers that opened them just before a publish
REFERENCE_COLUMNS = ["ref_id", "path", "archive", "origin", "source_key"]


class IndexMissing(UserError):
    """No copy index has been built in this folder."""


class IndexCorrupt(UserError):
    """A version whose files disagree (written by something else than :func:`publish`)."""


class IndexStale(UserError):
    """The copy index was built with other models or settings than the current configuration."""


@dataclass(frozen=True)
class CopyIndex:
    """One published version: its references, their rows, the faiss index over them, its manifest."""

    version: str
    manifest: dict
    references: pd.DataFrame  # REFERENCE_COLUMNS, one row per reference
    descriptors: Descriptors
    index: object  # faiss.Index over descriptors.features

    def threshold(self, localizer: str) -> float:
        thresholds = self.manifest.get("thresholds") or {}
        if localizer not in thresholds:
            raise UserError(f"the copy index has no match threshold for localiser {localizer!r} (it has {sorted(thresholds)}); "
                            "pass --min-score or rebuild it with kedro run --pipeline=vsc_matching")
        return float(thresholds[localizer]["threshold"])


def search_params(manifest: dict) -> SearchIndexParams:
    """The search settings a version's index was built with (defaults for a version written before they were recorded)."""
    return SearchIndexParams.from_params(manifest.get("search_index"))


def current_version(root: str | Path) -> str | None:
    try:
        return (Path(root) / CURRENT).read_text().strip() or None
    except FileNotFoundError:
        return None


def open_index(root: str | Path, attempts: int = 5) -> CopyIndex:
    """The current version of the copy index in ``root``; IndexMissing when none was published."""
    import faiss

    root = Path(root)
    for attempt in range(attempts):
        version = current_version(root)
        if version is None:
            raise IndexMissing(f"{root}: no copy index has been built here")
        folder = root / VERSIONS / version
        try:
            manifest = json.loads((folder / "manifest.json").read_text())
            references = pd.read_csv(folder / "references.csv", dtype={"ref_id": str, "path": str, "archive": str, "origin": str,
                                                                        "source_key": str}, keep_default_na=False)
            descriptors = load_descriptors(folder / "descriptors.npz")
            index = configure(faiss.read_index(str(folder / "index.faiss")), search_params(manifest))
        except (OSError, ValueError, RuntimeError):  # SubmissionError is a ValueError; faiss raises RuntimeError
            if attempt + 1 == attempts or (folder.is_dir() and current_version(root) == version):
                raise
            # a writer published and pruned this version (or is pruning it) after we read CURRENT: read the new one
            time.sleep(0.05)
            continue
        if not (index.ntotal == len(descriptors) == int(manifest["rows"])) or set(references["ref_id"]) != set(descriptors.video_ids.tolist()):
            raise IndexCorrupt(f"{folder}: the copy index's files disagree (rows {len(descriptors)}, index {index.ntotal}, "
                               f"manifest {manifest.get('rows')}): rebuild it with kedro run --pipeline=vsc_matching")
        return CopyIndex(version, manifest, references, descriptors, index)
    raise AssertionError("unreachable")


@contextlib.contextmanager
def writer_lock(root: str | Path):
    """One writer at a time (another add-references or a rebuild waits here)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    with exclusive_lock(root / ".lock"):
        yield


def publish(root: str | Path, manifest: dict, references: pd.DataFrame, descriptors: Descriptors, search: SearchIndexParams) -> str:
    """Write a new version and make it current (call it holding :func:`writer_lock`); its name.

    ``references`` and ``descriptors`` must name the same references;
    the rows are stored grouped by reference, in the references' order.
    """
    from video_similarity.search_index import build_index

    root = Path(root)
    references = references[REFERENCE_COLUMNS].reset_index(drop=True)
    if references["ref_id"].duplicated().any():
        raise ValueError(f"duplicate reference ids: {sorted(references.loc[references['ref_id'].duplicated(), 'ref_id'])[:5]}")
    if set(references["ref_id"]) != set(descriptors.video_ids.tolist()):
        raise ValueError("the references table and the descriptors name different references")
    order = {ref: k for k, ref in enumerate(references["ref_id"])}
    rows = np.argsort(np.array([order[v] for v in descriptors.video_ids.tolist()]), kind="stable")
    descriptors = Descriptors(descriptors.video_ids[rows], descriptors.timestamps[rows], descriptors.features[rows])
    name = f"{datetime.now():%Y%m%dT%H%M%S.%f}-{secrets.token_hex(3)}"  # sorts by time (writers hold the lock in turn)
    versions = root / VERSIONS
    scratch = versions / f".{name}.tmp"
    scratch.mkdir(parents=True)
    try:
        references.to_csv(scratch / "references.csv", index=False)
        save_descriptors(scratch / "descriptors.npz", descriptors)
        import faiss

        faiss.write_index(build_index(descriptors.features, search), str(scratch / "index.faiss"))
        full = {**manifest, "version": name, "rows": len(descriptors), "references": len(references), "search_index": as_dict(search),
                "published": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        (scratch / "manifest.json").write_text(json.dumps(full, indent=2, default=str))
        for path in scratch.iterdir():  # on disk before the rename makes them visible
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
        scratch.rename(versions / name)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    data = (name + "\n").encode()
    atomic_write(root / CURRENT, lambda handle: handle.write(data))
    _remove_old(versions, name)
    return name


def _remove_old(versions: Path, current: str) -> None:
    """Versions older than the newest KEEP_OLD before ``current``, and scratch folders of killed writers."""
    for stale in versions.glob(".*.tmp"):
        shutil.rmtree(stale, ignore_errors=True)
    older = sorted(p.name for p in versions.iterdir() if p.is_dir() and not p.name.startswith(".") and p.name != current)
    for name in older[:-KEEP_OLD] if KEEP_OLD else older:
        shutil.rmtree(versions / name, ignore_errors=True)


def stamp_differences(built: dict, current: dict, prefix: str = "") -> list[str]:
    """Where two stamps disagree, as ``key.path: built -> current`` lines (nested dicts walked)."""
    lines = []
    for key in sorted(set(built) | set(current)):
        a, b = built.get(key, "<absent>"), current.get(key, "<absent>")
        if isinstance(a, dict) and isinstance(b, dict):
            lines += stamp_differences(a, b, f"{prefix}{key}.")
        elif a != b:
            lines.append(f"{prefix}{key}: {_short(a)} -> {_short(b)}")
    return lines


def _short(value) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 40 else text[:37] + "..."


def check_stamp(copy_index: CopyIndex, current: dict, env: str | None) -> None:
    """Refuse an index built with other models or settings than ``current``, saying what differs."""
    differences = stamp_differences(copy_index.manifest.get("stamp") or {}, current)
    if differences:
        shown = "; ".join(differences[:4]) + (f"; and {len(differences) - 4} more" if len(differences) > 4 else "")
        raise IndexStale(f"the copy index was built with other models or settings than the current configuration ({shown}): "
                         f"rebuild it with {build_command(env, 'vsc_matching')} (after vsc_descriptor when the models changed)")


def build_command(env: str | None, *pipelines: str) -> str:
    """The ``kedro run`` command line(s) that build the index in ``env``."""
    flag = f" --env={env}" if env else ""
    return " then ".join(f"kedro run --pipeline={name}{flag}" for name in pipelines or ("vsc_descriptor", "vsc_matching"))
