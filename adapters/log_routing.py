"""The standard library's logging routed through structlog (adapters/logging.py configures it).

Apart from adapters/logging.py so that importing that module does not import ``logging``: the
CLI routes the standard library's lines the moment ``logging`` is first imported, and a command
that nothing in imports ``logging`` never pays for it (docs/performance.md, "CLI start").
"""

from __future__ import annotations

import logging


class ToStructlog(logging.Handler):
    """Library loggers (APScheduler, uvicorn) write through structlog, so a service's stderr
    is one format (JSON lines when asked) whoever logs."""

    def emit(self, record: logging.LogRecord) -> None:
        import structlog

        logger = structlog.get_logger(record.name)
        # the ledger's own lines carry their fields (aggregate id, event) as ``context``
        context = getattr(record, "context", None)
        fields = dict(context) if isinstance(context, dict) else {}
        if record.exc_info:
            fields["exc_info"] = record.exc_info
        logger.log(record.levelno, record.getMessage(), **fields)


def level_number(level_name: str) -> int:
    """``TOLLBOOK_LOG_LEVEL``'s name as logging's number (warning when unknown)."""
    return logging.getLevelNamesMapping().get(level_name.upper(), logging.WARNING)


def route_standard_logging(level: int) -> None:
    root = logging.getLogger()
    root.handlers = [h for h in root.handlers if not isinstance(h, ToStructlog)]
    root.addHandler(ToStructlog())
    # Python's warnings (a dependency's deprecation notice on import, say) go through the same
    # handler: a service's stderr stays one JSON line per record, never a bare text line
    logging.captureWarnings(True)
    # libraries chat at info (every job run, every connection): keep them to warnings
    root.setLevel(max(level, logging.WARNING))
    # tollbook's own standard-library loggers (the ledger's) keep the level asked for
    logging.getLogger("tollbook").setLevel(level)
