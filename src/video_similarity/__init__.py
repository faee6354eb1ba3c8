"""video_similarity: video copy detection and retrieval as Kedro pipelines."""

import logging as _logging

__version__ = "0.1.0"


def _plain_text_log_records() -> None:
    """The project's log messages are plain text: Kedro's Rich handler would read ``[q7]`` or ``[file]`` as markup.

    Rich honours a record's ``markup`` attribute over the handler's setting, so
    every record of a ``video_similarity`` logger gets ``markup=False`` (once per
    process, whatever handler the user configures).
    """
    previous = _logging.getLogRecordFactory()
    if getattr(previous, "plain_text_for", None) == __name__:
        return

    def factory(*args, **kwargs):
        record = previous(*args, **kwargs)
        if record.name == __name__ or record.name.startswith(__name__ + "."):
            record.markup = False
        return record

    factory.plain_text_for = __name__
    _logging.setLogRecordFactory(factory)


_plain_text_log_records()
