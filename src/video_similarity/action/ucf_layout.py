"""Index a UCF-style folder: ``<root>/<ClassName>/v_<ClassName>_gGG_cCC.<ext>`` (UCF50, UCF101).

Group ``GG`` is one long source video cut into clips ``CC``: clips of a group
look alike, which is why the evaluation protocols keep groups apart. A file
whose name does not parse, or whose class is not its folder's, is a problem
in the report and is skipped, never fatal.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from video_similarity.ingest.problems import DatasetUnusableError, ProblemLog

VIDEO_EXTENSIONS = (".avi", ".mp4", ".mkv", ".mov", ".webm", ".m4v")
_NAME = re.compile(r"^v_(?P<cls>.+)_g(?P<group>\d+)_c(?P<clip>\d+)$")
COLUMNS = ["video_id", "path", "class_name", "label", "group", "clip"]


def index_ucf_folder(root: str | Path) -> tuple[pd.DataFrame, ProblemLog]:
    """One row per parsable clip (label = the class's index in sorted class order) and the problems found."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetUnusableError(f"UCF root {root} does not exist or is not a directory")
    problems = ProblemLog()
    rows = []
    classes = sorted(p.name for p in root.iterdir() if p.is_dir())
    for class_name in classes:
        for path in sorted((root / class_name).iterdir()):
            if not path.is_file() or path.suffix.lower() not in VIDEO_EXTENSIONS:
                continue
            match = _NAME.match(path.stem)
            if match is None:
                problems.add(path, path.stem, "name is not v_<Class>_gGG_cCC; skipped", "unparsed_name")
                continue
            if match["cls"].lower() != class_name.lower():
                problems.add(path, path.stem, f"class {match['cls']!r} in the name, folder {class_name!r}; skipped", "class_mismatch")
                continue
            rows.append({"video_id": path.stem, "path": str(path.resolve()), "class_name": class_name,
                         "group": int(match["group"]), "clip": int(match["clip"])})
    videos = pd.DataFrame(rows, columns=[c for c in COLUMNS if c != "label"])
    if videos.empty:
        raise DatasetUnusableError(f"no clip named v_<Class>_gGG_cCC under {root}")
    duplicated = videos["video_id"].duplicated(keep="first")
    for row in videos[duplicated].itertuples():
        problems.add(row.path, row.video_id, "the same clip name twice (another extension); the first is kept", "duplicate_id")
    videos = videos[~duplicated].reset_index(drop=True)
    names = sorted(videos["class_name"].unique())
    videos.insert(3, "label", videos["class_name"].map({n: i for i, n in enumerate(names)}).astype(int))
    return videos[COLUMNS], problems
