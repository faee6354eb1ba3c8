"""Project settings (https://docs.kedro.org/en/stable/kedro_project_setup/settings.html)."""

from video_similarity.config import ProjectConfigLoader
from video_similarity.hooks import RemoveStaleTemporaries, RequireUpstreamOutputs, SaveReportOnFailure
from video_similarity.tracking.hook import TrackingHook

# kedro-mlflow registers its own hook; the project's TrackingHook is that hook with store failures turned into a
# warning (docs/tracking.md). It is registered first so that it runs after the others' before_pipeline_run: a
# run that RequireUpstreamOutputs refuses never opens an MLflow run.
DISABLE_HOOKS_FOR_PLUGINS = ("kedro-mlflow", "kedro_mlflow")
HOOKS = (TrackingHook(), RemoveStaleTemporaries(), RequireUpstreamOutputs(), SaveReportOnFailure())

CONFIG_LOADER_CLASS = ProjectConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # An env overrides single keys (e.g. ingest.source) instead of whole sections.
    "merge_strategy": {"parameters": "soft", "catalog": "soft", "mlflow": "soft"},
}
