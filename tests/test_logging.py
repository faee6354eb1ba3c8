"""The project's log messages reach Kedro's Rich handler as plain text: brackets are not markup."""

import io
import logging

from rich.console import Console

import video_similarity  # noqa: F401  (installs the record factory)


def test_bracketed_ids_and_paths_survive_the_rich_handler():
    from kedro.logging import RichHandler

    out = io.StringIO()
    handler = RichHandler(console=Console(file=out, width=200), show_time=False, show_path=False)  # markup on, as Kedro sets it
    logger = logging.getLogger("video_similarity.test_logging")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("skipped [q7] in /data/[file]/Q7.mp4 and [bold]%s[/bold]", "x")
    finally:
        logger.removeHandler(handler)
    text = out.getvalue()
    assert "[q7]" in text and "[file]" in text and "[bold]x[/bold]" in text
    other = io.StringIO()  # other loggers keep Kedro's markup
    kedro_handler = RichHandler(console=Console(file=other, width=200), show_time=False, show_path=False)
    kedro_logger = logging.getLogger("kedro.test_logging")
    kedro_logger.addHandler(kedro_handler)
    kedro_logger.propagate = False
    try:
        kedro_logger.warning("[bold]y[/bold]")
    finally:
        kedro_logger.removeHandler(kedro_handler)
    assert "[bold]" not in other.getvalue() and "y" in other.getvalue()


def test_a_project_message_may_still_ask_for_markup():
    logger = logging.getLogger("video_similarity.test_logging_markup")
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger.addHandler(handler)
    try:
        logger.warning("[bold]x[/bold]", extra={"markup": True})  # no "Attempt to overwrite 'markup'"
        logger.warning("[q7]")
    finally:
        logger.removeHandler(handler)
    assert [r.markup for r in records] == [True, False]
