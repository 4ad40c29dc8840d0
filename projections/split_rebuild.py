"""A rebuild's second group of read models, rebuilt in a child process at the same time.

The invoice documents read model folds every invoice with the domain: alone it is about a
third of a rebuild's CPU, all of it Python under the parent's one GIL. In a process of its
own it runs on the machine's other core while the parent rebuilds the rest (docs/performance.md,
"Projection rebuild"). Each read model keeps its own tracking row, so the two processes never
write the same rows and exactly-once holds as it does for two runners.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import TYPE_CHECKING

import structlog

if TYPE_CHECKING:
    from projections.runner import Runner

log = structlog.get_logger("tollbook.projections")

#: The read models rebuilt in the child when a rebuild covers them and others.
CHILD_READ_MODELS = ("invoice_documents",)


class ChildRebuildFailed(Exception):
    """The child process rebuilding some read models failed (not a stopped read model: those
    record their fault in the store as a single process does)."""


class _ParentGone(Exception):
    pass


def _die_with_parent(parent: int) -> None:
    """A child left running after its parent was killed would go on writing, and could even
    reset its read model after another runner had caught it up: on Linux the kernel kills it
    with the parent; elsewhere it stops at its next batch (``_check_parent``)."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    _check_parent(parent)


def _check_parent(parent: int) -> None:
    if os.getppid() != parent:
        raise _ParentGone(f"the parent process {parent} is gone")


def _child_main(
    factory: Callable[[], Runner],
    names: list[str],
    batch_size: int,
    out: Connection,
    parent: int,
) -> None:
    try:
        _die_with_parent(parent)
        runner = factory()
        runner.batch_size = batch_size
        applied = runner.rebuild(names, lambda reached, head: _check_parent(parent))
    except BaseException as error:  # reported to the parent, which names the read models
        from projections.runner import describe_error

        out.send(("error", describe_error(error)))
        raise
    out.send(("ok", applied))


@dataclass
class ChildRebuild:
    names: list[str]
    process: BaseProcess
    results: Connection

    def wait(self) -> int:
        """The events the child applied; raises ChildRebuildFailed naming its read models."""
        try:
            kind, value = self.results.recv()
        except EOFError:  # it died without a word (killed, out of memory)
            kind, value = "error", "the process ended without a result"
        finally:
            self.process.join()
            self.results.close()
        if kind != "ok":
            raise ChildRebuildFailed(
                f"rebuilding read model {', '.join(self.names)} in a child process failed:"
                f" {value} (exit code {self.process.exitcode})"
            )
        return int(value)


def start_child(
    factory: Callable[[], Runner], names: Sequence[str], batch_size: int
) -> ChildRebuild | None:
    """The child rebuilding ``names``, started; None when it cannot start (the caller then
    rebuilds them itself)."""
    # 'spawn': a fork of a process holding database connections and threads is unsafe
    context = multiprocessing.get_context("spawn")
    results, sent = context.Pipe(duplex=False)
    try:
        process = context.Process(
            target=_child_main,
            args=(factory, list(names), batch_size, sent, os.getpid()),
            name="tollbook-rebuild",
            daemon=True,
        )
        process.start()
    except Exception:
        log.warning(
            "cannot start a process to rebuild read models: one process does all",
            exc_info=True,
            read_models=list(names),
        )
        results.close()
        sent.close()
        return None
    sent.close()  # the child's end: EOF here once the child is gone
    return ChildRebuild(list(names), process, results)
