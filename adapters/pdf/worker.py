"""What a batch's worker process runs: it renders documents it is handed and writes their files.

The process that runs the batch (``adapters.pdf.batch``) reads each invoice from the ledger and
hands the worker its document (``adapters.pdf.content``, plain strings). The worker has no
ledger: it imports fpdf2 and the rendering modules, not the ledger, the domain (but for its
errors, a module of plain classes) or a database driver, and opens no connection; the imports
it is spared were ~40% of its start-up (docs/performance.md, "Workers without a ledger"). Keep
this module's imports to what rendering and writing need: a worker imports them first.
"""

from __future__ import annotations

import gc
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

from adapters.logging import configure_logging_on_import
from adapters.pdf.config import PdfConfig
from adapters.pdf.content import Document
from adapters.pdf.fonts import Cut, take_cuts, warm_up
from adapters.pdf.render import render
from domain.errors import BillingError  # no import of its own: the domain stays out

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True, slots=True)
class Written:
    """One PDF on disk and its SHA-256."""

    label: str
    path: Path
    sha256: str
    pages: int

    def summary(self) -> str:
        pages = f"{self.pages} page{'s' if self.pages != 1 else ''}"
        return f"{self.path} ({pages}, sha256 {self.sha256})"


@dataclass(frozen=True, slots=True)
class Failed:
    """An invoice of a batch that could not be read, rendered or written, and why."""

    invoice_id: UUID
    error: str


def file_name(label: str) -> str:
    """A file name for a document number (number formats may contain '/' and the like)."""
    return f"{_UNSAFE.sub('_', label).strip('._') or 'document'}.pdf"


def write_atomically(path: Path, data: bytes) -> str:
    """Write ``data`` to ``path`` through a temporary file; return its SHA-256 (hex)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_bytes(data)
    temporary.replace(path)
    return hashlib.sha256(data).hexdigest()


def render_to(invoice_id: UUID, document: Document, directory: Path, config: PdfConfig) -> Written:
    """The invoice's PDF, rendered from its document and written into ``directory``."""
    label = document.reference if document.mark != "DRAFT" else f"draft-{invoice_id}"
    rendered = render(document, config)
    path = directory / file_name(label)
    digest = write_atomically(path, rendered.pdf)
    return Written(label, path, digest, rendered.page_count)


def failure(invoice_id: UUID, error: Exception) -> Failed:
    """An invoice's failure, logged with its traceback, as the batch reports it."""
    import structlog  # see start(): a worker imports it only once an invoice fails

    log = structlog.get_logger("tollbook.pdf")
    log.error("pdf failed", aggregate_id=str(invoice_id), error=str(error), exc_info=True)
    return Failed(invoice_id, describe(error))


def describe(error: BaseException) -> str:
    if isinstance(error, BillingError):
        return str(error)
    if isinstance(error, OSError) and error.filename is not None:
        return f"{error.strerror or error}: {error.filename}"
    return f"{type(error).__name__}: {error}"


# the worker's configuration, set once by start()
_config: PdfConfig | None = None


def start() -> None:
    """A worker's initializer."""
    global _config
    # A spawned process starts with structlog's defaults. Importing structlog (and, through it,
    # rich) was ~60-90 ms of CPU: configured now, it is imported once something logs, which a
    # worker does only for an invoice that fails ("pdf written" is logged by the batch's
    # process when the result comes back).
    configure_logging_on_import()
    _config = PdfConfig.from_env()
    # parse the fonts now, not inside the first invoice; the cut of the faces comes with the
    # first invoices, made by the process handing them out (adapters.pdf.batch)
    warm_up(_config.fonts, cut=False)
    # What the start-up made (modules, parsed fonts) lives as long as the worker: out of the
    # collector's sight, it is not traversed again by each full collection, nor by the
    # interpreter's teardown when the pool is shut down, which took 0.17-0.35 s (a spawned
    # process ends through sys.exit) and held the end of every batch
    gc.freeze()


def started() -> None:
    """A worker's first task: done once its initializer has run (it has started)."""


def work(
    invoice_id: UUID, document: Document, directory: Path, cuts: tuple[Cut, ...] = ()
) -> Written | Failed:
    """One invoice of a batch: a failure to render or write is returned, never raised, so that
    one bad invoice (a full disk, a file in the way) does not stop the others."""
    assert _config is not None, "worker not initialised"
    take_cuts(cuts)
    return render_or_fail(invoice_id, document, directory, _config)


def render_or_fail(
    invoice_id: UUID, document: Document, directory: Path, config: PdfConfig
) -> Written | Failed:
    """``render_to``, with a failure logged and returned instead of raised (in a worker and in
    the batch's own process alike)."""
    try:
        return render_to(invoice_id, document, directory, config)
    except Exception as error:  # reported per invoice; the batch goes on
        return failure(invoice_id, error)
