"""A throwaway copy of the project (conf, pyproject, notebooks) to run pipelines in."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[2]


def run_pipeline(project: Path, pipeline: str, env: str = "test", runtime_params: dict | None = None, **run_args):
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    with contextlib.chdir(project):
        bootstrap_project(project)
        with KedroSession.create(project_path=project, env=env, runtime_params=runtime_params) as session:
            return session.run(pipeline_name=pipeline, **run_args)


def latest_results(project: Path, dataset: str = "test") -> dict:
    """The newest version of the versioned ``retrieval_results`` of ``dataset``."""
    versions = sorted((project / "data" / "08_reporting" / dataset / "retrieval_results.json").iterdir())
    return json.loads((versions[-1] / "retrieval_results.json").read_text())


def execute_notebook(project: Path, name: str, env: str = "test") -> list:
    """Run ``notebooks/<name>`` of ``project`` top to bottom with KEDRO_ENV=env; its code cells' outputs."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(project / "notebooks" / name, as_version=4)
    previous = os.environ.get("KEDRO_ENV")
    os.environ["KEDRO_ENV"] = env
    try:
        NotebookClient(notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(project / "notebooks")}}).execute()
    finally:
        os.environ.pop("KEDRO_ENV") if previous is None else os.environ.__setitem__("KEDRO_ENV", previous)
    return [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]


# ------------------------------------------------------------------ small inputs for node tests


#: Three test queries of 8 s: QUERY_ARCHIVES' videos.
QUERY_INDEX = pd.DataFrame({"video_id": ["Q1", "Q2", "Q3"], "split": "test", "role": "query", "duration": [8.0, 8.0, 8.0]})
#: Descriptor settings of one member "m", fixed (no tuning).
FIXED_SETTINGS = {"weights": {"m": 1.0}, "projection": None, "dedup_threshold": None, "beta": 1.2, "video_score_threshold": None,
                  "source": "fixed", "note": ""}


def _archive(path, video_id, frames):
    from video_similarity.frames.archive import ArchiveSettings, write_archive
    from video_similarity.video.decode import SampledFrame

    write_archive(path, video_id, [SampledFrame(i, float(i), i + 1.0, f) for i, f in enumerate(frames)], ArchiveSettings(1.0, None, 95))


def _moving(rng, n, h, w):
    return [np.kron(rng.integers(0, 256, (h // 8, w // 8, 3)), np.ones((8, 8, 1))).astype(np.uint8) for _ in range(n)]


def query_archives(tmp_path):
    """QUERY_INDEX's frame archives: Q1 two moving scenes side by side, Q2 one moving scene, Q3 a corrupt file."""
    from video_similarity.datasets.frame_archives import FrameArchiveStore

    rng = np.random.default_rng(0)
    store = tmp_path / "archives"
    store.mkdir()
    left, right = _moving(rng, 8, 160, 160), _moving(rng, 8, 160, 160)
    _archive(store / "Q1.zip", "Q1", [np.concatenate([a, np.zeros((160, 8, 3), np.uint8), b], 1) for a, b in zip(left, right)])
    _archive(store / "Q2.zip", "Q2", _moving(rng, 8, 160, 240))  # no structure: left whole
    (store / "Q3.zip").write_bytes(b"not a zip")  # a corrupt archive: recorded, the rest goes on
    return FrameArchiveStore(store)


def unit_descriptors(ids, n_dim=4, seed=0):
    """One random unit row per id, with [k, k+1) timestamps."""
    from video_similarity.descriptors import Descriptors

    rng = np.random.default_rng(seed)
    feats = rng.normal(size=(len(ids), n_dim)).astype(np.float32)
    return Descriptors(np.asarray(ids), np.stack([np.arange(len(ids)), np.arange(len(ids)) + 1], 1).astype(np.float32),
                       feats / np.linalg.norm(feats, axis=1, keepdims=True))


@pytest.fixture(scope="session")
def project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("project")
    shutil.copy(REPO / "pyproject.toml", root)
    shutil.copytree(REPO / "conf", root / "conf", ignore=shutil.ignore_patterns("local"))
    (root / "conf" / "local").mkdir()
    (root / "src").mkdir()  # bootstrap_project expects it; the package itself is installed
    shutil.copytree(REPO / "notebooks", root / "notebooks", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    shutil.copytree(REPO / "data" / "annotations", root / "data" / "annotations")  # conf/fivr and conf/cc_web read them
    return root


@pytest.fixture(scope="session")
def demo_run(project) -> Path:
    """The default pipeline on conf/test, run once for the whole session."""
    run_pipeline(project, "vsc_descriptor")
    return project


@pytest.fixture(scope="session")
def retrieval_run(project) -> Path:
    """retrieval on conf/test (the tiny FIVR-shaped demo), run once for the whole session."""
    run_pipeline(project, "retrieval")
    return project


@pytest.fixture(scope="session")
def action_run(project):
    """action_recognition on conf/test, with a few files that must be skipped, run once for the session (severe reads its folds)."""
    root = project / "data/01_raw/actions_test/photos"
    (root / "DriftRight").mkdir(parents=True, exist_ok=True)
    (root / "DriftRight" / "v_DriftRight_g09_c01.mp4").write_bytes(b"\x00" * 64)  # parses, does not decode
    (root / "DriftRight" / "holiday.mp4").write_bytes(b"")  # does not parse
    (root / "Juggling").mkdir()
    (root / "Juggling" / "v_Juggling_g01_c01.mp4").write_bytes(b"\x01" * 64)  # a class whose only file fails: no label gap
    run_pipeline(project, "action_recognition")
    return project
