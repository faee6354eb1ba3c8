"""A Rich console on stderr for Kedro's log handler (conf/logging.yml): stdout is left to answers (``kedro find-copies --format json``)."""

from __future__ import annotations

from rich.console import Console

STDERR = Console(stderr=True)
