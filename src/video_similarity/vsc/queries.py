"""A query's side of the descriptor track: its scene parts, its descriptors (members, PCA, de-duplication, parts merged in).

One implementation for ``infer_query`` (a split's queries) and ``kedro find-copies`` (a
user's videos): a video found by the command is embedded exactly as a benchmark query.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import numpy as np

from video_similarity.cache import input_key, open_stamped, read_item, write_item
from video_similarity.descriptors import Descriptors
from video_similarity.frames.params import LayoutThresholds
from video_similarity.vsc.boosters import PART, merge_parts, part_id
from video_similarity.vsc.dedup import drop_near_duplicates
from video_similarity.vsc.ensemble import embed_with_ensemble, project
from video_similarity.vsc.settings import DescriptorSettings

log = logging.getLogger(__name__)


def _write_parts(folder: Path, video_id: str, archive, frames: list[np.ndarray], layout) -> list[dict]:
    """One frame archive per part of ``layout`` (cropped frames, the query's timestamps); the manifest rows."""
    from video_similarity.frames.archive import ArchiveSettings, write_archive
    from video_similarity.video.decode import SampledFrame

    for stale in folder.glob(f"{video_id}{PART}*.zip"):
        stale.unlink()
    known = {f.name for f in dataclasses.fields(ArchiveSettings)}
    settings = ArchiveSettings(**{k: v for k, v in archive.meta.items() if k in known})
    rows = []
    for k, box in enumerate(layout.parts):
        path = folder / f"{part_id(video_id, k)}.zip"
        cropped = (SampledFrame(i, float(s), float(e), np.ascontiguousarray(box.crop(f)))
                   for i, (f, (s, e)) in enumerate(zip(frames, archive.timestamps)))
        write_archive(path, part_id(video_id, k), cropped, settings, extra={"parent": video_id, "box": [box.top, box.left, box.bottom, box.right]})
        rows.append({"archive": str(path), "box": [box.top, box.left, box.bottom, box.right]})
    return rows


def detect_scene_parts(queries: dict[str, str], folder: str | Path, thresholds: LayoutThresholds,
                       progress: bool = True) -> tuple[dict[str, list[dict]], dict[str, str]]:
    """Scene layouts of ``queries`` ({id: frame archive}): static borders cropped, stacked scenes split.

    A query whose layout is not the whole frame gets one frame archive per part
    in ``folder`` (the one cache rule: the folder is stamped with the detection
    thresholds, each query's layout is an item keyed by its archive).
    Returns ``({query: [{archive, box}]}, {query: error})``.
    """
    from tqdm.auto import tqdm

    from video_similarity.frames.scene_layout import detect_layout

    folder = Path(folder)
    open_stamped(folder, {"scene_detection": dataclasses.asdict(thresholds)})
    parts: dict[str, list[dict]] = {}
    failed: dict[str, str] = {}
    for video_id, path in tqdm(sorted(queries.items()), desc="scene detection", unit="video", disable=not progress):
        key = input_key(path)
        item = read_item(folder, video_id)
        try:
            if item is None or str(item["key"]) != key:
                from video_similarity.frames.archive import FrameArchive

                with FrameArchive(path) as archive:  # decoded once: for the layout and for its parts
                    frames = list(archive.frames())
                    layout = detect_layout(frames, thresholds)
                    rows = [] if layout.is_whole else _write_parts(folder, video_id, archive, frames, layout)
                boxes = np.asarray([r["box"] for r in rows], dtype=np.int64).reshape(-1, 4)
                write_item(folder, video_id, key, boxes=boxes)  # after the part archives: an interrupted video is redone
            else:
                boxes = item["boxes"].reshape(-1, 4)
                rows = [{"archive": str(folder / f"{part_id(video_id, k)}.zip"), "box": b.tolist()} for k, b in enumerate(boxes)]
        except (OSError, ValueError) as error:
            failed[video_id] = str(error)
            log.warning("Scene detection skipped %s: %s", video_id, error)
            continue
        if rows:
            parts[video_id] = rows
    return parts, failed


def dedup(descriptors: Descriptors, settings: DescriptorSettings) -> Descriptors:
    """The settings' fixed-threshold de-duplication, if they ask for one."""
    if settings.dedup_threshold is None:
        return descriptors
    kept = drop_near_duplicates(descriptors, settings.dedup_threshold)
    log.info("De-duplication at %g: %d of %d rows kept", settings.dedup_threshold, len(kept), len(descriptors))
    return kept


@dataclasses.dataclass(frozen=True)
class QueryDescriptors:
    """A set of queries' rows: every frame (projected, one per second) and the searched rows (de-duplicated, parts merged in)."""

    frames: Descriptors
    searched: Descriptors


def embed_queries(ensemble_members: dict, settings: DescriptorSettings, pca_model, queries: dict[str, str],
                  parts: dict[str, list[dict]] | None, replace: bool, cache_dir: str | Path, job: str, batch_size: int,
                  launch_params: dict | None) -> QueryDescriptors:
    """The queries' descriptors before the budget and score normalisation.

    Each scene part is embedded like a query of its own; with ``replace`` a
    query with parts keeps its number of descriptors, its parts' rows first,
    else the parts' rows are added. The settings' de-duplication drops
    near-duplicate consecutive rows (of a query and of each part on its own).
    """
    frames = project(embed_with_ensemble(ensemble_members, settings, queries, cache_dir, job, batch_size, launch_params), pca_model)
    kept = dedup(frames, settings)
    part_archives = {
        part_id(video, k): row["archive"]
        for video, rows in (parts or {}).items() if video in queries
        for k, row in enumerate(rows) if Path(row["archive"]).is_file()
    }
    if part_archives:
        embedded = project(embed_with_ensemble(ensemble_members, settings, part_archives, cache_dir, f"{job}_parts", batch_size, launch_params),
                           pca_model)
        merged = merge_parts(kept, dedup(embedded, settings), replace)
        log.info("Scene parts: %d part descriptors %s (%d left out: a query keeps its number of descriptors)", merged.part_rows,
                 "in place of their queries' frames" if replace else "added", merged.dropped)
        kept = merged.descriptors
    return QueryDescriptors(frames, kept)
