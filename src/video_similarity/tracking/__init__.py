"""Experiment tracking: every ``kedro run`` recorded in the project's local MLflow store, through kedro-mlflow.

kedro-mlflow does the recording (a run per ``kedro run``, named after the
pipeline; the nodes' parameters; the metric and artifact datasets of the
catalog). This package adds what a shared research machine needs around it:

- ``hook.TrackingHook``: kedro-mlflow's hook made safe to lose. A store that
  cannot be opened (locked, corrupt, read-only) or fails later gives one
  warning line and the run goes on untracked; a run never fails for tracking.
  ``VIDEO_SIMILARITY_TRACKING=off`` switches tracking off for a run.
- ``curves.TrainingCurves``: the torchrun workers get the run's
  ``MLFLOW_TRACKING_URI`` and ``MLFLOW_RUN_ID`` (:func:`worker_environment`,
  passed on by ``launch.py``); rank 0 logs each epoch's loss, learning rate and
  evaluation figure (step = epoch), a resumed training its earlier epochs first.
- ``metrics.figures`` / ``metrics.as_metrics``: a report's numbers in the shape
  of kedro-mlflow's ``MlflowMetricsHistoryDataset``, for the nodes that feed it.

Only ``hook`` imports MLflow at import time; the workers import it only when they log.
"""

from __future__ import annotations

import os

#: ``off`` (or 0 / false / no) records nothing for the run.
SWITCH = "VIDEO_SIMILARITY_TRACKING"
_OFF = {"0", "off", "false", "no"}

#: The MLflow run of this process's pipeline run (set by the hook while it is tracked), for the workers it launches.
active_run: dict[str, str] = {}


def switched_off() -> bool:
    return os.environ.get(SWITCH, "on").strip().lower() in _OFF


def worker_environment() -> dict[str, str]:
    """``MLFLOW_TRACKING_URI`` and ``MLFLOW_RUN_ID`` of the pipeline run in progress; empty when none is tracked."""
    return dict(active_run)
