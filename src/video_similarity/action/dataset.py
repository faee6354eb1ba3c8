"""An action dataset on disk: its root (the demo rendered there first), its UCF-style index, and the clip
archives of every video with the ingest report. Both action pipelines read a dataset this way."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from video_similarity.action.clip_archives import USABLE, write_clip_archives
from video_similarity.cache import open_stamped
from video_similarity.config import dataset_name
from video_similarity.ingest.problems import DatasetUnusableError, Problem, ProblemLog

if TYPE_CHECKING:
    from video_similarity.pipelines.action_recognition.params import ActionDataParams

log = logging.getLogger(__name__)


def prepare_root(config: ActionDataParams) -> str:
    """The dataset root; for source ``demo``, the embedded action dataset is rendered there first (existing files kept)."""
    if not config.root:
        raise DatasetUnusableError("action_data.root is not set; for UCF50 run with --env=ucf50 --params=ucf_root=/path/to/UCF50")
    if config.source == "demo":
        from video_similarity.demo.actions import write_action_demo

        paths = write_action_demo(config.root, config.demo, config.demo_domain)
        log.info("Action demo (%s domain): %d clips under %s", config.demo_domain, len(paths), config.root)
    return str(Path(config.root))


def index_action_videos(root: str) -> tuple[pd.DataFrame, list[dict]]:
    """The UCF-style index (video_id, path, class_name, label, group, clip) and the files that were skipped."""
    from video_similarity.action.ucf_layout import index_ucf_folder

    videos, problems = index_ucf_folder(root)
    log.info("Indexed %d clips of %d classes in %d groups under %s; %d file(s) skipped", len(videos), videos["class_name"].nunique(),
             videos["group"].nunique(), root, len(problems.problems))
    return videos, problems.records()


def clip_folder(store: Path, root: str, config: ActionDataParams) -> Path:
    """The clip archives of one root and sampling: a stamped folder of its own (two roots never share archives)."""
    folder = store / dataset_name("clips", root)
    open_stamped(folder, {"root": str(Path(root).absolute()), "clips": config.clip_params().stamp(), "jpeg_quality": config.jpeg_quality})
    return folder


def decode_clips(videos: pd.DataFrame, problems: list[dict], root: str, store: Path, config: ActionDataParams) -> tuple[pd.DataFrame, dict]:
    """Clip archives of every indexed video; the manifest (index columns + archive, status) and the ingest report."""
    manifest = write_clip_archives(videos, clip_folder(store, root, config), config.clip_params(), config.workers)
    merged = videos.merge(manifest, on="video_id", how="left")
    usable = merged["status"].isin(USABLE)
    # labels over the classes that have usable videos: a class whose every file failed leaves no gap in the label space
    classes = sorted(merged.loc[usable, "class_name"].unique())
    merged["label"] = merged["class_name"].map({c: i for i, c in enumerate(classes)}).where(usable, -1).fillna(-1).astype(int)
    for row in merged[merged["status"] == "partial"].itertuples():
        log.warning("%s: %s", row.path, row.error)
    failed = merged[~usable]
    skipped = ProblemLog([Problem(**record) for record in problems])  # the index's, logged when found
    for row in failed.itertuples():
        skipped.add(row.path, row.video_id, f"{row.error}; skipped", "too_short" if str(row.error).startswith("too short") else "decode_failed")
    good = merged[usable]
    if good.empty:
        raise DatasetUnusableError(f"no clip of {root} could be decoded ({len(failed)} failed); see the action ingest report")
    kinds = skipped.by_kind()
    report = {"root": str(Path(root).resolve()), "videos": int(len(videos) + len(problems)), "usable": int(len(good)),
              "partial": int((merged["status"] == "partial").sum()),
              "classes": int(good["class_name"].nunique()), "groups": int(good["group"].nunique()),
              "sampling": config.clip_params().stamp(), "n_skipped": len(skipped.problems), "skipped_by_kind": kinds,
              "skipped": skipped.records()}
    log.info("Clip archives: %d of %d videos usable, %d skipped (%s)", len(good), report["videos"], len(skipped.problems), kinds or "none")
    return merged, report
