"""Structured logging (structlog): JSON or console lines on stderr, level from the environment.

``TOLLBOOK_LOG_LEVEL`` (default ``warning`` for the CLI so tables stay clean),
``TOLLBOOK_LOG_FORMAT`` (``console`` or ``json``) and ``TOLLBOOK_LOG_TRACEBACKS`` (console
tracebacks: ``rich``, the default, or ``plain``: Python's own text, which costs milliseconds
where rich's framed source and locals cost seconds per exception).

Importing structlog costs more than starting Python (it brings rich's tracebacks), so the CLI
calls ``configure_logging_on_import``: the standard library's logging is routed the moment
something first imports it (at once when something has), and structlog is configured the moment
something first imports it (a command that logs, the store's read side) — a command that never
logs never pays for either.
"""

from __future__ import annotations

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

    from adapters.log_routing import level_number

    numeric = level_number(level or os.environ.get("TOLLBOOK_LOG_LEVEL", "warning"))
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


def _route_standard_logging(level: int) -> None:
    from adapters.log_routing import route_standard_logging

    route_standard_logging(level)


def configure_logging_on_import(level: str | None = None, fmt: str | None = None) -> None:
    """As ``configure_logging``, but structlog is configured only once something imports it
    (at once when it already is). Until then the standard library's lines are routed (their
    handler imports structlog for the first line that passes the level)."""
    if "structlog" in sys.modules:
        configure_logging(level, fmt)
        return
    level_name = level or os.environ.get("TOLLBOOK_LOG_LEVEL", "warning")
    _ConfigureOnImport.install("structlog", lambda: configure_logging(level, fmt))
    if "logging" in sys.modules:
        _route_from(level_name)
        return
    # nothing can log before ``logging`` is imported: route it then (a command that never
    # imports it, ``settings show``, saves ~4 ms of CPU), and a Python warning shown before
    # then imports it so that the warning goes through the handler as it would have
    _ConfigureOnImport.install("logging", lambda: _route_from(level_name))
    _WarningImportsLogging.install()


def _route_from(level_name: str) -> None:
    from adapters.log_routing import level_number

    _WarningImportsLogging.uninstall()  # before captureWarnings saves what shows warnings
    _route_standard_logging(level_number(level_name))


class _WarningImportsLogging:
    """``warnings.showwarning`` until ``logging`` is imported: the first warning imports it
    (and so routes it, with ``logging.captureWarnings``), then shows itself through it."""

    def __init__(self, shown: Callable[..., None]) -> None:
        self._shown = shown

    @classmethod
    def install(cls) -> None:
        import warnings

        if not isinstance(warnings.showwarning, cls):
            warnings.showwarning = cls(warnings.showwarning)

    @classmethod
    def uninstall(cls) -> None:
        import warnings

        if isinstance(warnings.showwarning, cls):
            warnings.showwarning = warnings.showwarning._shown

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        import warnings

        if warnings.showwarning is not self:  # replaced since: show as this one was asked to
            self._shown(*args, **kwargs)
            return
        import logging  # noqa: F401  (routed on import, which captures warnings)

        if warnings.showwarning is self:  # logging was imported before: not routed by us
            warnings.showwarning = self._shown
        warnings.showwarning(*args, **kwargs)


class _ConfigureOnImport:
    """A finder on ``sys.meta_path`` (and the loader it hands out) that imports one module
    (structlog, logging) as usual, then configures it before the importer gets it back.
    (Duck-typed: importlib.abc would cost this start-up more than it saves.)"""

    def __init__(self, name: str, configure: Callable[[], None]) -> None:
        self._name = name
        self._configure = configure
        self._loader: Any = None

    @classmethod
    def install(cls, name: str, configure: Callable[[], None]) -> None:
        sys.meta_path[:] = [
            f for f in sys.meta_path if not (isinstance(f, cls) and f._name == name)
        ]
        sys.meta_path.insert(0, cls(name, configure))

    def find_spec(
        self, fullname: str, path: Any = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname != self._name:
            return None
        sys.meta_path.remove(self)  # once: configuring imports the module itself
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
