"""``kedro find-copies``, ``kedro add-references``, ``kedro remove-references``: Kedro's CLI extended, like ``kedro run``.

Each opens the project's configuration as ``kedro run`` does (``--env``,
``--params``), loads what it needs from the catalog and calls
:mod:`video_similarity.vsc.copies.service`. Answers go to stdout, problems to
stderr as one line each (``Error: <file>: <problem>``). Exit status as grep's:
0 a copy found (or the index changed), 1 none, 2 an error (every input
unreadable, no index, an index made with other models or settings).
"""

from __future__ import annotations

import logging
import sys
import time
from contextlib import contextmanager

import click
from kedro.framework.cli.project import run as kedro_run

OPTIONS = {p.name: p for p in kedro_run.params}


def _quiet_logging(verbose: bool) -> None:
    """Logs to stderr (stdout is the answer: JSON must parse), warnings only unless ``--verbose``."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    root = logging.getLogger()
    root.handlers = [handler]
    for name in ("kedro", "video_similarity", "py.warnings"):
        logger = logging.getLogger(name)
        logger.handlers = []
        logger.propagate = True
    root.setLevel(logging.INFO if verbose else logging.WARNING)
    for name in ("kedro", "video_similarity"):
        logging.getLogger(name).setLevel(logging.INFO if verbose else logging.WARNING)


def _error(message: str) -> None:
    click.secho(f"Error: {message}", fg="red", err=True)


@contextmanager
def _user_errors():
    """A UserError anywhere (or in a cause) or an OSError is one line and exit 2; any other error exits 2 too; Ctrl-C exits 130."""
    from video_similarity.cli import user_error

    try:
        yield
    except KeyboardInterrupt:
        click.secho("Interrupted: what was finished is kept (cached); run the same command again to resume.", fg="yellow", err=True)
        raise SystemExit(130) from None
    except (SystemExit, click.exceptions.Exit):
        raise
    except Exception as error:  # noqa: BLE001
        found = user_error(error)
        if found is not None or isinstance(error, OSError):  # the user's mistake, or the file system's (a folder not writable)
            _error(str(found or error))
        else:  # a bug: its traceback, but the status of an error (1 means "no copy found")
            import traceback

            traceback.print_exc()
        raise SystemExit(2) from None


class Project:
    """The configuration ``--env`` / ``--params`` select, as ``kedro run`` reads it; the catalog's copy-index entries."""

    def __init__(self, env: str | None, params: dict | None, verbose: bool):
        from kedro.framework.session import KedroSession

        self.env = env
        self.session = KedroSession.create(env=env, runtime_params=params or None)
        _quiet_logging(verbose)
        self.context = self.session.load_context()
        if hasattr(self.context, "_pipelines_to_validate"):  # no node runs: parameters need no validation against every pipeline's
            self.context._pipelines_to_validate = []  # type hints (which would import every node module: a second of start-up)
        _quiet_logging(verbose)
        self.params = self.context.params
        self.catalog = self.context.catalog

    def load(self, name: str):
        from kedro.io import DatasetError

        from video_similarity.errors import UserError
        from video_similarity.vsc.copies.index import build_command

        try:
            return self.catalog.load(name)
        except DatasetError as error:
            raise UserError(f"{name} cannot be loaded ({str(error).splitlines()[0][:160]}): run {build_command(self.env)}") from None

    def folders(self):
        from pathlib import Path

        from video_similarity.vsc.copies.service import Folders

        return Folders(Path(self.load("copy_index_store").path), Path(self.load("reference_additions_store").path),
                       Path(self.load("find_copies_store").path))

    def settings(self):
        from video_similarity.errors import UserError
        from video_similarity.vsc.copies.service import Settings

        try:
            return Settings.from_params(self.params)
        except ValueError as error:
            raise UserError(f"parameters: {error}") from None

    def models(self):
        from video_similarity.vsc.copies.service import Models

        vid_score = self.load("vid_score_model") if self.catalog.exists("vid_score_model") else None
        alignment = self.load("alignment_model") if self.catalog.exists("alignment_model") else None
        return Models(self.load("ensemble_members"), self.load("descriptor_settings"), self.load("pca_model"), self.load("noise_bank"),
                      vid_score, alignment)

    def require_index(self, folders) -> None:
        """Before the models are loaded: a missing index is said first."""
        from video_similarity.vsc.copies.index import IndexMissing, build_command, current_version

        if current_version(folders.index) is None:
            raise IndexMissing(f"no copy index is built for this dataset ({folders.index}): run {build_command(self.env)}")


def _shared(option: click.Option):
    """``kedro run``'s own option (same name, help and parsing) on another command (click's decorator protocol)."""

    def decorate(function):
        function.__click_params__ = [*getattr(function, "__click_params__", []), option]
        return function

    return decorate


def _open(env: str | None, params: dict | None, verbose: bool):
    """(settings, folders, models) of the configuration, once an index is known to exist."""
    project = Project(env, params, verbose)
    settings, folders = project.settings(), project.folders()
    project.require_index(folders)
    return settings, folders, project.models()


def _change(env: str | None, params: dict | None, verbose: bool, change, items: list[str]) -> dict:
    """An index change (add or remove) of ``items`` (the service reads the index under its lock); its errors printed, one line each."""
    with _user_errors():
        settings, folders, models = _open(env, params, verbose)
        done = change(items, models, settings, folders, env)
    for message in done["errors"].values():
        _error(message)
    return done


_env = _shared(OPTIONS["env"])
_params = _shared(OPTIONS["params"])
_verbose = click.option("--verbose", "-v", is_flag=True, help="Log what is done (to stderr).")


@click.command("find-copies")
@click.argument("paths", nargs=-1, required=True)
@_env
@_params
@click.option("--format", "output", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True,
              help="table: for people; json: one document, a list of {video, matches}; csv: one row per match.")
@click.option("--min-score", type=float, default=None, help="Least score of a reported match (default: the index's threshold, "
              "chosen on the training split; docs/find_copies.md).")
@click.option("--report", "report_dir", type=click.Path(file_okay=False), default=None,
              help="Write a figure per match and an index.md into this folder.")
@_verbose
def find_copies(paths, env, params, output, min_score, report_dir, verbose):
    """Is each video (files, or folders of them) a copy of a reference in the index, and which seconds of which?

    Exit status: 0 a copy found, 1 none, 2 no input could be read or no usable index.
    """
    from video_similarity.vsc.copies.output import as_csv, as_json, as_table, write_report
    from video_similarity.vsc.copies.service import find_copies as find, load_index

    started = time.perf_counter()
    with _user_errors():
        settings, folders, models = _open(env, params, verbose)
        copy_index = load_index(folders, models, settings, env)
        loaded = time.perf_counter() - started
        found = find(list(paths), models, settings, folders, copy_index, min_score)
        found.timings["start_up"] = loaded
        for result in found.results:
            if result.error:
                _error(result.error)
        click.echo({"json": as_json, "csv": as_csv, "table": as_table}[output](found), nl=output != "csv")
        if report_dir:
            index = write_report(report_dir, found)
            click.secho(f"Report: {index}", err=True)
        logging.getLogger(__name__).info("Timings (s): %s", {k: round(v, 3) for k, v in found.timings.items()})
    answered = [r for r in found.results if not r.error]
    if not answered:
        raise SystemExit(2)
    raise SystemExit(0 if any(r.matches is not None and len(r.matches) for r in answered) else 1)


@click.command("add-references")
@click.argument("paths", nargs=-1, required=True)
@_env
@_params
@_verbose
def add_references(paths, env, params, verbose):
    """Add reference videos (files, or folders of them) to the built copy index; their ids are their file names.

    Only new or changed videos are decoded and embedded; the index is replaced whole (a find-copies running meanwhile reads
    the old one or the new one). Exit status 0 when the index holds them, 2 when none could be added.
    """
    from video_similarity.vsc.copies.service import add_references as add

    done = _change(env, params, verbose, add, list(paths))
    click.echo(f"added {len(done['added'])} reference(s){': ' + ', '.join(done['added']) if done['added'] else ''}"
               + (f"; {len(done['unchanged'])} already in the index, unchanged" if done["unchanged"] else ""))
    raise SystemExit(2 if done["errors"] and not (done["added"] or done["unchanged"]) else 0)


@click.command("remove-references")
@click.argument("ids", nargs=-1, required=True)
@_env
@_params
@_verbose
def remove_references(ids, env, params, verbose):
    """Remove references from the built copy index by id; the index is replaced whole. Exit status 2 when no id was known."""
    from video_similarity.vsc.copies.service import remove_references as remove

    done = _change(env, params, verbose, remove, list(ids))
    click.echo(f"removed {len(done['removed'])} reference(s){': ' + ', '.join(done['removed']) if done['removed'] else ''}")
    raise SystemExit(2 if not done["removed"] else 0)


COMMANDS = (find_copies, add_references, remove_references)
