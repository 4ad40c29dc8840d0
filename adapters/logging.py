"""Structured logging (structlog): JSON or console lines on stderr, level from the environment.

``TOLLBOOK_LOG_LEVEL`` (default ``warning`` for the CLI so tables stay clean) and
``TOLLBOOK_LOG_FORMAT`` (``console`` or ``json``).
"""

from __future__ import annotations

import io
import logging
import os
import sys
from typing import TextIO, cast

import structlog


class _CurrentStderr(io.TextIOBase):
    """Writes to whatever ``sys.stderr`` is now, not to the stream of configuration time
    (which test capture or a daemon's redirection may have closed since)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure_logging(level: str | None = None, fmt: str | None = None) -> None:
    level_name = (level or os.environ.get("TOLLBOOK_LOG_LEVEL", "warning")).upper()
    numeric = logging.getLevelNamesMapping().get(level_name, logging.WARNING)
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if (fmt or os.environ.get("TOLLBOOK_LOG_FORMAT", "console")) == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=cast(TextIO, _CurrentStderr())),
        cache_logger_on_first_use=False,
    )
