"""Initializers of a PDF batch's workers for tests/integration/test_pdf_batch.py (pickled by
name, run in the spawned workers). They talk to the test through files named by environment
variables the workers inherit. This module imports no more than a worker does (not the test
module, which imports the ledger): what a worker imports is under test.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import adapters.pdf.worker
from adapters.pdf.config import PdfConfig
from adapters.pdf.content import Document
from adapters.pdf.render import Rendered, render
from adapters.pdf.worker import start

STARTED = "TOLLBOOK_TEST_WORKER_STARTED"  # a worker writes what it imported here once started
RENDERED = "TOLLBOOK_TEST_WORKER_RENDERED"  # ... and appends each document it renders here

# what a worker would import if it read invoices itself
LEDGER_MODULES = ("adapters.ledger.application", "adapters.config", "eventsourcing", "psycopg")


def recording_worker() -> None:
    """A worker that says when it has started, what it imported, and what it renders."""
    start()

    def recorded(document: Document, config: PdfConfig | None = None) -> Rendered:
        with Path(os.environ[RENDERED]).open("a") as record:
            record.write(f"{document.reference}\n")
        return render(document, config)

    adapters.pdf.worker.render = recorded  # type: ignore[attr-defined,assignment]
    Path(os.environ[STARTED]).write_text("\n".join(sorted(sys.modules)))


def failing_worker() -> None:
    raise RuntimeError("this worker cannot start")


def slow_worker() -> None:
    """A worker whose start-up outlasts a small batch."""
    time.sleep(60)
    Path(os.environ[STARTED]).write_text(str(os.getpid()))
    start()


def dying_worker() -> None:
    """A worker that dies (as on a crash or the OOM killer) on the first invoice it renders."""
    start()

    def dies(document: Document, config: PdfConfig | None = None) -> Rendered:
        os._exit(9)

    adapters.pdf.worker.render = dies  # type: ignore[attr-defined,assignment]
    Path(os.environ[STARTED]).write_text(str(os.getpid()))
