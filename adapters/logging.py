"""Structured logging (structlog): JSON or console lines on stderr, level from the environment.

``TOLLBOOK_LOG_LEVEL`` (default ``warning`` for the CLI so tables stay clean),
``TOLLBOOK_LOG_FORMAT`` (``console`` or ``json``) and ``TOLLBOOK_LOG_TRACEBACKS`` (console
tracebacks: ``rich``, the default, or ``plain``: Python's own text, which costs milliseconds
where rich's framed source and locals cost seconds per exception).

Importing structlog costs more than starting Python (it brings rich's tracebacks), so the CLI
calls ``configure_logging_on_import``: the standard library's logging is routed at once, and
structlog is configured the moment something first imports it (a command that logs, the
store's read side) — a command that never logs never pays for it.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from importlib.machinery import ModuleSpec

    import structlog


def configure_logging(level: str | None = None, fmt: str | None = None) -> None:
    import structlog

    level_name = (level or os.environ.get("TOLLBOOK_LOG_LEVEL", "warning")).upper()
    numeric = logging.getLevelNamesMapping().get(level_name, logging.WARNING)
    as_json = (fmt or os.environ.get("TOLLBOOK_LOG_FORMAT", "console")) == "json"
    renderer: list[structlog.typing.Processor] = (
        # tracebacks become a string field of the JSON line
        [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
        if as_json
        else [structlog.dev.ConsoleRenderer(colors=False, exception_formatter=_tracebacks())]
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


def _tracebacks() -> structlog.typing.ExceptionRenderer:
    import structlog

    if os.environ.get("TOLLBOOK_LOG_TRACEBACKS", "rich") == "plain":
        return structlog.dev.plain_traceback
    return structlog.dev.default_exception_formatter


def _stderr_logger(*args: object) -> structlog.PrintLogger:
    """Whatever ``sys.stderr`` is when the line is written (not when logging was configured),
    so a stream swapped out and closed since (a test's captured output) is never written to."""
    del args
    import structlog

    return structlog.PrintLogger(file=sys.stderr)


class _ToStructlog(logging.Handler):
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


def _route_standard_logging(level: int) -> None:
    root = logging.getLogger()
    root.handlers = [h for h in root.handlers if not isinstance(h, _ToStructlog)]
    root.addHandler(_ToStructlog())
    # Python's warnings (a dependency's deprecation notice on import, say) go through the same
    # handler: a service's stderr stays one JSON line per record, never a bare text line
    logging.captureWarnings(True)
    # libraries chat at info (every job run, every connection): keep them to warnings
    root.setLevel(max(level, logging.WARNING))
    # tollbook's own standard-library loggers (the ledger's) keep the level asked for
    logging.getLogger("tollbook").setLevel(level)


def configure_logging_on_import(level: str | None = None, fmt: str | None = None) -> None:
    """As ``configure_logging``, but structlog is configured only once something imports it
    (at once when it already is). Until then the standard library's lines are routed (their
    handler imports structlog for the first line that passes the level)."""
    if "structlog" in sys.modules:
        configure_logging(level, fmt)
        return
    level_name = (level or os.environ.get("TOLLBOOK_LOG_LEVEL", "warning")).upper()
    _route_standard_logging(logging.getLevelNamesMapping().get(level_name, logging.WARNING))
    _ConfigureOnImport.install(lambda: configure_logging(level, fmt))


class _ConfigureOnImport:
    """A finder on ``sys.meta_path`` (and the loader it hands out) that imports structlog as
    usual, then configures it before the importer gets it back. (Duck-typed: importlib.abc
    would cost this start-up more than it saves.)"""

    def __init__(self, configure: Callable[[], None]) -> None:
        self._configure = configure
        self._loader: Any = None

    @classmethod
    def install(cls, configure: Callable[[], None]) -> None:
        sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, cls)]
        sys.meta_path.insert(0, cls(configure))

    def find_spec(
        self, fullname: str, path: Any = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname != "structlog":
            return None
        sys.meta_path.remove(self)  # once: configuring imports structlog itself
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            spec: ModuleSpec | None = None if find is None else find(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        if spec.loader is None:
            return spec
        self._loader, spec.loader = spec.loader, self  # type: ignore[assignment]
        return spec

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        module: ModuleType | None = self._loader.create_module(spec)
        return module

    def exec_module(self, module: ModuleType) -> None:
        if module.__spec__ is not None:
            module.__spec__.loader = self._loader
        self._loader.exec_module(module)
        self._configure()
