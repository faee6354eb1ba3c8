"""Telemetry is off for the project itself, not only when the Makefile's environment variables are set."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_the_project_denies_telemetry_consent_without_any_environment_variable(monkeypatch):
    from kedro_telemetry.plugin import _SKIP_TELEMETRY_ENV_VAR_KEYS, _check_for_telemetry_consent

    for name in _SKIP_TELEMETRY_ENV_VAR_KEYS:
        monkeypatch.delenv(name, raising=False)
    # kedro-telemetry reads the project's .telemetry: with consent false it neither sends nor writes a
    # project_id block into the tracked pyproject.toml
    assert _check_for_telemetry_consent(REPO) is False
    assert "kedro_telemetry" not in (REPO / "pyproject.toml").read_text()


def test_mlflow_telemetry_is_off_once_the_project_is_imported_without_any_environment_variable():
    """MLflow decides on import whether to send usage data; the package, imported first by every way of running
    the project (kedro CLI, sessions, notebooks, workers), tells it not to."""
    import os
    import subprocess
    import sys

    skip = {"MLFLOW_DISABLE_TELEMETRY", "DO_NOT_TRACK", "PYTEST_CURRENT_TEST", "CI", "GITHUB_ACTIONS"}
    env = {k: v for k, v in os.environ.items() if k not in skip}
    code = ("import os, video_similarity, mlflow\n"
            "from mlflow.telemetry import get_telemetry_client\n"
            "from mlflow.telemetry.utils import is_telemetry_disabled\n"
            "assert os.environ['MLFLOW_DISABLE_TELEMETRY'] == 'true' and get_telemetry_client() is None and is_telemetry_disabled()\n"
            "os.environ.pop('MLFLOW_DISABLE_TELEMETRY')\n"
            "print('enabled without the variable:', not is_telemetry_disabled())\n")
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "enabled without the variable: True" in result.stdout  # the variable is what turns it off here
