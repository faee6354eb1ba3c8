"""A report's figures as MLflow metrics: the shape kedro-mlflow's ``MlflowMetricsHistoryDataset`` saves."""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping


def metric_key(name: str) -> str:
    """``name`` as an MLflow key: ``+ scene detection`` -> ``scene_detection``, ``cc_web*`` -> ``cc_web_star``."""
    name = str(name).replace("*", "_star")
    return re.sub(r"[^\w.\-/]+", "_", name).strip("_") or "_"


def figures(tree: Mapping, keep: Collection[str] | None = None) -> dict[str, float]:
    """The numeric leaves of a nested report, keyed by their path (``ensemble.uAP``); only leaves named in ``keep`` when given."""
    out: dict[str, float] = {}

    def walk(node: Mapping, path: tuple[str, ...]) -> None:
        for key, value in node.items():
            if isinstance(value, Mapping):
                walk(value, path + (metric_key(key),))
            elif isinstance(value, (int, float)) and not isinstance(value, bool) and (keep is None or key in keep):
                out[".".join(path + (metric_key(key),))] = float(value)

    walk(tree, ())
    return out


def as_metrics(values: Mapping[str, float]) -> dict[str, dict[str, float]]:
    """``{key: value}`` as ``MlflowMetricsHistoryDataset`` takes it (one value at step 0); values that are not finite are left out."""
    return {key: {"value": float(v), "step": 0} for key, v in values.items() if v is not None and math.isfinite(float(v))}
