"""Two runs of the store side by side: the helpers behind ``notebooks/compare_runs.ipynb``."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd


def store_uri(context) -> str:
    """The tracking URI of a Kedro context (what the project's hook resolved from conf/<env>/mlflow.yml)."""
    mlflow_config = getattr(context, "mlflow", None)
    if mlflow_config is None:
        raise RuntimeError("experiment tracking is switched off in this session (VIDEO_SIMILARITY_TRACKING=off): no store to read")
    return mlflow_config.server.mlflow_tracking_uri


def finished_runs(client, experiment: str, max_results: int = 200) -> list:
    """The experiment's finished runs, newest first."""
    found = client.get_experiment_by_name(experiment)
    if found is None:
        raise ValueError(f"the store has no experiment {experiment!r} yet: run a pipeline first")
    return client.search_runs([found.experiment_id], "attributes.status = 'FINISHED'", order_by=["attributes.start_time DESC"],
                              max_results=max_results)


def pick_two(runs: Sequence) -> tuple:
    """The newest two runs of one pipeline (the newest run's, if it ran twice), else the newest two of any."""
    if len(runs) < 2:
        raise ValueError(f"the experiment has {len(runs)} finished run(s); two are needed to compare")
    same = [r for r in runs if r.info.run_name == runs[0].info.run_name]
    return tuple(same[:2]) if len(same) >= 2 else (runs[0], runs[1])


def label(run) -> str:
    return f"{run.info.run_name} {run.info.run_id[:8]}"


def metrics_side_by_side(a, b) -> pd.DataFrame:
    """Every final metric of either run (rows), the two runs' values and b minus a."""
    table = pd.DataFrame({label(a): pd.Series(a.data.metrics, dtype=float), label(b): pd.Series(b.data.metrics, dtype=float)}).sort_index()
    table["difference"] = table.iloc[:, 1] - table.iloc[:, 0]
    return table


def differing_params(a, b) -> pd.DataFrame:
    """The parameters whose values differ between the runs (missing in one counts as different)."""
    keys = sorted(set(a.data.params) | set(b.data.params))
    rows = {k: (a.data.params.get(k), b.data.params.get(k)) for k in keys if a.data.params.get(k) != b.data.params.get(k)}
    return pd.DataFrame.from_dict(rows, orient="index", columns=[label(a), label(b)])


def curves(client, run, prefix: str = "train.", figure: str = "loss") -> dict[str, pd.Series]:
    """Each trained model's per-epoch ``figure`` in ``run``: {model: Series indexed by epoch}."""
    out = {}
    for key in sorted(k for k in run.data.metrics if k.startswith(prefix) and k.endswith("." + figure)):
        history = client.get_metric_history(run.info.run_id, key)
        out[key[len(prefix) : -len(figure) - 1]] = pd.Series({m.step: m.value for m in history}).sort_index()
    return out
