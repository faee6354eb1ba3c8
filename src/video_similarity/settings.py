"""Project settings (https://docs.kedro.org/en/stable/kedro_project_setup/settings.html)."""

from video_similarity.config import ProjectConfigLoader
from video_similarity.hooks import RemoveStaleTemporaries, RequireUpstreamOutputs, SaveReportOnFailure

HOOKS = (RemoveStaleTemporaries(), RequireUpstreamOutputs(), SaveReportOnFailure())

CONFIG_LOADER_CLASS = ProjectConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # An env overrides single keys (e.g. ingest.source) instead of whole sections.
    "merge_strategy": {"parameters": "soft", "catalog": "soft"},
}
