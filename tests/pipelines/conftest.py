"""A throwaway copy of the project (conf, pyproject, notebooks) to run pipelines in."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path

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
