"""video_similarity: video copy detection and retrieval as Kedro pipelines."""

import logging as _logging
import os as _os

__version__ = "0.1.0"

# MLflow (experiment tracking) sends usage telemetry unless told not to, and decides when it is first imported:
# this package is imported before it by every way of running the project (kedro CLI, sessions, notebooks, tests).
_os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


def _plain_text_log_records() -> None:
    """The project's log messages are plain text: Kedro's Rich handler would read ``[q7]`` or ``[file]`` as markup.

    Rich honours a record's ``markup`` attribute over the handler's setting. The
    project's loggers (created after this runs, by the package's modules) make
    records with ``markup=False`` unless the call passes ``extra={"markup": ...}``.
    """
    base = _logging.getLoggerClass()
    if getattr(base, "plain_text_for", None) == __name__:
        return

    class PlainTextLogger(base):
        plain_text_for = __name__

        def makeRecord(self, *args, **kwargs):
            record = super().makeRecord(*args, **kwargs)
            if (record.name == __name__ or record.name.startswith(__name__ + ".")) and not hasattr(record, "markup"):
                record.markup = False
            return record

    _logging.setLoggerClass(PlainTextLogger)


_plain_text_log_records()


class _DropLibraryNoise(_logging.Filter):
    """Drops a warning MLflow raises on every command that no user can act on.

    On import it warns that kedro-mlflow's model wrapper (unused here) lacks type
    hints, under its own ``simplefilter("once")``: no warnings filter reaches it,
    only the ``py.warnings`` log record it becomes when Kedro captures warnings.
    """

    MESSAGES = ("Add type hints to the `predict` method",)

    def filter(self, record: _logging.LogRecord) -> bool:
        return not any(m in str(record.msg) for m in self.MESSAGES)


_logging.getLogger("py.warnings").addFilter(_DropLibraryNoise())
