"""The one class of expected user errors, shown as one line with the next step instead of a traceback."""

from __future__ import annotations


class UserError(Exception):
    """A mistake in the user's data, configuration or order of runs, not a bug.

    The project's ``kedro run`` (``video_similarity.cli``) prints its message
    alone and exits with status 2; internal errors keep their traceback. A
    ``report`` (a stage's JSON report) is saved to the failing node's
    ``*_report`` output before the run stops (``hooks.SaveReportOnFailure``),
    so what was rejected is on disk even when nothing else could be made.
    """

    def __init__(self, message: str, report: dict | None = None):
        super().__init__(message)
        self.report = report


def read_csv_named(path, expected: str, error: type[Exception] = ValueError, **read_args):
    """``pandas.read_csv`` whose failures are one line naming the file (``expected``: what an empty file should have held)."""
    import pandas as pd

    try:
        return pd.read_csv(path, **read_args)
    except FileNotFoundError:
        raise error(f"{path}: file not found") from None
    except pd.errors.EmptyDataError:
        raise error(f"{path}: the file is empty (expected {expected})") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise error(f"{path}: not a readable CSV ({str(exc).splitlines()[0]})") from None
    except OSError as exc:
        raise error(f"{path}: cannot read ({exc.strerror or exc})") from None
