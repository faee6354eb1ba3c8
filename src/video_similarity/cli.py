"""The project's ``kedro run``: Kedro's own command, with expected user errors shown as one line.

Kedro loads this module's ``cli`` group and lets its commands override the
built-in ones. A :class:`~video_similarity.errors.UserError` anywhere in the
run (or in the chain of its causes) is printed as ``Error: <message>`` and
exits with status 2; every other error keeps Kedro's traceback.
"""

from __future__ import annotations

import click
from kedro.framework.cli.project import run as kedro_run

from video_similarity.errors import UserError


def user_error(error: BaseException | None) -> UserError | None:
    """The first UserError in ``error``'s chain of causes, if any."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, UserError):
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None


def _run(**kwargs):
    if kwargs.get("pipeline") and not kwargs.get("pipelines"):  # the one-pipeline spelling, without Kedro's deprecation notice
        kwargs = {**kwargs, "pipeline": None, "pipelines": [kwargs["pipeline"]]}
    try:
        return kedro_run.callback(**kwargs)
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: what finished is kept (atomic writes), a rerun resumes
        click.secho("Interrupted: finished work is kept; run the same command again to resume.", fg="yellow", err=True)
        raise SystemExit(130) from None
    except Exception as error:
        found = user_error(error)
        if found is None:
            raise
        click.secho(f"Error: {found}", fg="red", err=True)
        raise SystemExit(2) from None


@click.group(name="video_similarity")
def cli() -> None:
    """Project commands of video_similarity."""


cli.add_command(click.Command("run", callback=_run, params=kedro_run.params, help=kedro_run.help, short_help=kedro_run.short_help))


def _copy_commands() -> None:
    """``kedro find-copies``, ``add-references``, ``remove-references`` (docs/find_copies.md)."""
    from video_similarity.vsc.copies.commands import COMMANDS

    for command in COMMANDS:
        cli.add_command(command)


_copy_commands()
