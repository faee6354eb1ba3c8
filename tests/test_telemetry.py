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
