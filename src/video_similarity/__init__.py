"""video_similarity: video copy detection and retrieval as Kedro pipelines."""

import logging as _logging

__version__ = "0.1.0"


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
