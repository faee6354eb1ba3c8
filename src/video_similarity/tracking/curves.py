"""Rank 0's training curves, logged into the Kedro run's MLflow run from inside a torchrun job."""

from __future__ import annotations

import logging
import math
import os
import time

from video_similarity.tracking import switched_off
from video_similarity.tracking.metrics import metric_key
from video_similarity.tracking.store import check_store, first_line

log = logging.getLogger(__name__)


class TrainingCurves:
    """Rank 0's per-epoch figures as metric histories of the Kedro run (``train.<model>.<figure>``, step = epoch).

    ``record(history)`` logs the epochs of ``history`` the run does not have yet:
    after a resume the checkpoint's earlier epochs first, then each new one.
    A store problem logs one warning and stops the curves; training goes on.
    """

    def __init__(self, model: str, tracking_uri: str, run_id: str):
        self.prefix = f"train.{metric_key(model)}"
        self.tracking_uri, self.run_id = tracking_uri, run_id
        self._client = None
        self._logged: set[int] | None = None

    @classmethod
    def from_environment(cls, model: str) -> TrainingCurves | None:
        uri, run_id = os.environ.get("MLFLOW_TRACKING_URI"), os.environ.get("MLFLOW_RUN_ID")
        if not uri or not run_id or switched_off():
            return None
        return cls(model, uri, run_id)

    def record(self, history: list[dict]) -> None:
        if self.run_id is None:
            return
        try:
            from mlflow.entities import Metric
            from mlflow.tracking import MlflowClient

            if self._client is None:
                logging.getLogger("mlflow.store.db.utils").setLevel(logging.CRITICAL)  # its traceback wall; the warning below says it
                check_store(self.tracking_uri)
                self._client = MlflowClient(tracking_uri=self.tracking_uri)
                self._logged = {int(m.step) for m in self._client.get_metric_history(self.run_id, f"{self.prefix}.loss")}
            now = int(time.time() * 1000)
            metrics = [Metric(f"{self.prefix}.{metric_key(key)}", float(value), now, int(row["epoch"]))
                       for row in history if int(row["epoch"]) not in self._logged
                       for key, value in row.items()
                       if key != "epoch" and isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)]
            for start in range(0, len(metrics), 1000):  # MLflow's batch limit
                self._client.log_batch(self.run_id, metrics=metrics[start : start + 1000])
            self._logged |= {int(row["epoch"]) for row in history}
        except Exception as error:  # noqa: BLE001 -- curves are not worth a failed training
            log.warning("Training curves of %s are not recorded from here on: %s", self.prefix, first_line(error))
            self.run_id = None
