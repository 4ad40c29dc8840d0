"""Structured logging (structlog): JSON or console lines on stderr, level from the environment.

``TOLLBOOK_LOG_LEVEL`` (default ``warning`` for the CLI so tables stay clean) and
``TOLLBOOK_LOG_FORMAT`` (``console`` or ``json``).
"""

from __future__ import annotations

import logging
import os
import sys

import structlog


def configure_logging(level: str | None = None, fmt: str | None = None) -> None:
    level_name = (level or os.environ.get("TOLLBOOK_LOG_LEVEL", "warning")).upper()
    numeric = logging.getLevelNamesMapping().get(level_name, logging.WARNING)
    as_json = (fmt or os.environ.get("TOLLBOOK_LOG_FORMAT", "console")) == "json"
    renderer: list[structlog.typing.Processor] = (
        # tracebacks become a string field of the JSON line
        [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
        if as_json
        else [structlog.dev.ConsoleRenderer(colors=False)]
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            *renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=_stderr_logger,
        cache_logger_on_first_use=False,
    )
    _route_standard_logging(numeric)


def _stderr_logger(*args: object) -> structlog.PrintLogger:
    """Whatever ``sys.stderr`` is when the line is written (not when logging was configured),
    so a stream swapped out and closed since (a test's captured output) is never written to."""
    del args
    return structlog.PrintLogger(file=sys.stderr)


class _ToStructlog(logging.Handler):
    """Library loggers (APScheduler, uvicorn) write through structlog, so a service's stderr
    is one format (JSON lines when asked) whoever logs."""

    def emit(self, record: logging.LogRecord) -> None:
        logger = structlog.get_logger(record.name)
        # the ledger's own lines carry their fields (aggregate id, event) as ``context``
        context = getattr(record, "context", None)
        fields = dict(context) if isinstance(context, dict) else {}
        if record.exc_info:
            fields["exc_info"] = record.exc_info
        logger.log(record.levelno, record.getMessage(), **fields)


def _route_standard_logging(level: int) -> None:
    root = logging.getLogger()
    root.handlers = [h for h in root.handlers if not isinstance(h, _ToStructlog)]
    root.addHandler(_ToStructlog())
    # libraries chat at info (every job run, every connection): keep them to warnings
    root.setLevel(max(level, logging.WARNING))
    # tollbook's own standard-library loggers (the ledger's) keep the level asked for
    logging.getLogger("tollbook").setLevel(level)
