"""Rendering many invoices at once (``tollbook invoice pdf --all``): one process per core.

With N jobs this process renders too, beside N - 1 worker processes: it starts at once, while
each worker spends ~0.5-1 s of CPU starting (a fresh interpreter, the imports, its ledger, the
fonts), which a batch of 100 one-page invoices (~25 ms each) does not amortise.

Each worker opens its own ledger on the same store (a ledger cannot cross a process boundary)
and writes its files itself, so only paths and checksums travel back. Workers are started with
"spawn": forking a parent that holds database connections and pool threads is unsafe. What a
worker imports is what rendering needs: this module keeps the invoice selection's queries out
of its imports (they are imported by ``invoice_ids_for``, which only the parent calls).

An invoice that cannot be rendered or written is reported (``Failed``) and the batch carries
on: the others are written and listed in ``SHA256SUMS``. The files do not depend on the number
of workers: each PDF is rendered from the ledger alone, and the results are sorted by file name.
"""

from __future__ import annotations

import calendar
import gc
import hashlib
import multiprocessing
import os
import re
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from uuid import UUID

import structlog

from adapters.config_error import ConfigError
from adapters.ledger.application import Ledger
from adapters.logging import configure_logging
from adapters.pdf.config import PdfConfig
from adapters.pdf.fonts import Cut, cuts_made, take_cuts, warm_up
from adapters.pdf.render import render
from adapters.pdf.sources import invoice_source
from domain.errors import BillingError, InvalidInput

log = structlog.get_logger("tollbook.pdf")

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
    """An invoice of a batch that could not be rendered or written, and why."""

    invoice_id: UUID
    error: str


@dataclass(frozen=True, slots=True)
class Batch:
    """What a batch wrote (sorted by file name) and what it could not (in selection order)."""

    written: list[Written]
    failed: list[Failed]


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


def month(text: str) -> tuple[date, date]:
    """``2026-10`` -> first and last day of that month."""
    match = re.fullmatch(r"(\d{4})-(\d{2})", text.strip())
    if not match or not 1 <= int(match[2]) <= 12:
        raise InvalidInput(f"period must be a month like 2026-10: {text!r}")
    year, number = int(match[1]), int(match[2])
    return date(year, number, 1), date(year, number, calendar.monthrange(year, number)[1])


def invoice_ids_for(ledger: Ledger, period: str, *, drafts: bool = False) -> list[UUID]:
    """Invoices whose billing period starts in ``period`` (or, without one, dated in it), in
    the order they were drafted: pages of the invoice register's ``period_day`` index on an
    SQL store (a fold of the invoices only on ``memory://``)."""
    from adapters.ledger.folds import LogFolds
    from adapters.queries import MAX_LIMIT, InvoiceQuery, queries_for

    first, last = month(period)
    try:
        queries = queries_for(ledger)
    except ConfigError:
        return [
            invoice.id
            for invoice in LogFolds(ledger).invoices()
            if first <= (invoice.period_start or invoice.invoice_date) <= last
            and (drafts or invoice.state != "draft")
        ]
    wanted = InvoiceQuery(period_from=first, period_to=last, issued_only=not drafts)
    chosen: list[UUID] = []
    cursor: str | None = None
    while True:
        page = queries.invoices(wanted, ledger.today(), limit=MAX_LIMIT, cursor=cursor)
        chosen += [UUID(row["invoice_id"]) for row in page.items]
        if page.next_cursor is None:
            return chosen
        cursor = page.next_cursor


def render_invoice_to(
    ledger: Ledger, invoice_id: UUID, directory: Path, config: PdfConfig
) -> Written:
    document = invoice_source(ledger, invoice_id)  # one read of the invoice
    label = document.reference if document.mark != "DRAFT" else f"draft-{invoice_id}"
    rendered = render(document, config)
    path = directory / file_name(label)
    digest = write_atomically(path, rendered.pdf)
    log.info("pdf written", aggregate_id=str(invoice_id), path=str(path), sha256=digest)
    return Written(label, path, digest, rendered.page_count)


def _render_or_fail(
    ledger: Ledger, invoice_id: UUID, directory: Path, config: PdfConfig
) -> Written | Failed:
    """One invoice of a batch: a failure is logged and returned, never raised, so that one bad
    invoice (an unreadable record, a full disk, a file in the way) does not stop the others."""
    try:
        return render_invoice_to(ledger, invoice_id, directory, config)
    except Exception as error:  # reported per invoice; the batch goes on
        log.error("pdf failed", aggregate_id=str(invoice_id), error=str(error), exc_info=True)
        return Failed(invoice_id, _describe(error))


def _describe(error: BaseException) -> str:
    if isinstance(error, BillingError):
        return str(error)
    if isinstance(error, OSError) and error.filename is not None:
        return f"{error.strerror or error}: {error.filename}"
    return f"{type(error).__name__}: {error}"


# state of a worker process, set once by its initializer
_worker: tuple[Ledger, PdfConfig] | None = None


def _start_worker(open_ledger: Callable[[str | None], Ledger], database_url: str | None) -> None:
    global _worker
    configure_logging()  # a spawned process starts with structlog's defaults
    config = PdfConfig.from_env()
    # parse the fonts now, not inside the first invoice; the cut of the faces comes with the
    # first invoices, made by the process handing them out (see _render_beside_workers)
    warm_up(config.fonts, cut=False)
    _worker = (open_ledger(database_url), config)
    # What the start-up made (modules, parsed fonts, the ledger) lives as long as the worker:
    # out of the collector's sight, it is not traversed again by each full collection, nor by
    # the interpreter's teardown when the pool is shut down, which took 0.17-0.35 s (a spawned
    # process ends through sys.exit) and held the end of every batch
    gc.freeze()


def _started() -> None:
    """A worker's first task: done once its initializer has run (it has started)."""


def _work(invoice_id: UUID, directory: Path, cuts: tuple[Cut, ...] = ()) -> Written | Failed:
    assert _worker is not None, "worker not initialised"
    ledger, config = _worker
    take_cuts(cuts)
    return _render_or_fail(ledger, invoice_id, directory, config)


def render_all(
    ledger: Ledger,
    database_url: str | None,
    invoice_ids: Iterable[UUID],
    directory: Path,
    *,
    jobs: int | None = None,
    open_ledger: Callable[[str | None], Ledger],
    config: PdfConfig | None = None,
    done: Callable[[Written | Failed], None] = lambda result: None,
) -> Batch:
    """Render every invoice into ``directory`` and write ``SHA256SUMS`` beside them.

    ``open_ledger`` (the composition root's ``build_ledger``) opens the store in each worker
    process; it must be a module-level function, as it is pickled to the workers.

    ``jobs`` processes render (default: every core): this one, with ``ledger``, and ``jobs - 1``
    workers; with one job, or an in-process store (``memory://``) that other processes cannot
    see, this one alone. An invoice that fails is in ``Batch.failed`` and absent from
    ``SHA256SUMS``; the others are written whatever the number of jobs, to the same bytes.
    """
    ids = list(dict.fromkeys(invoice_ids))  # each invoice once
    config = config or PdfConfig.from_env()  # fails fast on a bad logo or missing font
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(ids) or 1))
    results: dict[UUID, Written | Failed] = {}

    def record(invoice_id: UUID, result: Written | Failed) -> None:
        results[invoice_id] = result
        done(result)

    if jobs == 1 or (database_url or "").startswith("memory:"):
        for invoice_id in ids:
            record(invoice_id, _render_or_fail(ledger, invoice_id, directory, config))
    else:
        _render_beside_workers(
            ledger, ids, directory, config, jobs - 1, (open_ledger, database_url), record
        )
    written = sorted(
        (r for r in results.values() if isinstance(r, Written)), key=lambda w: w.path.name
    )
    failed = [r for invoice_id in ids if isinstance(r := results[invoice_id], Failed)]
    sums = "".join(f"{w.sha256}  {w.path.name}\n" for w in written)
    write_atomically(directory / "SHA256SUMS", sums.encode())
    return Batch(written, failed)


# invoices queued per started worker: one to render and one waiting, so that a worker that
# finishes while this process is busy rendering its own has the next at hand
_QUEUED_PER_WORKER = 2


def _render_beside_workers(
    ledger: Ledger,
    ids: list[UUID],
    directory: Path,
    config: PdfConfig,
    workers: int,
    opening: tuple[Callable[[str | None], Ledger], str | None],
    record: Callable[[UUID, Written | Failed], None],
) -> None:
    """Render ``ids`` here and on ``workers`` processes, taking them in order from one queue.

    This process renders one invoice at a time and, between them, hands invoices to the
    workers that have started (each first runs ``_started``): until one has, it renders alone,
    and a batch it finishes before any worker started does not wait for them (they are
    stopped). A worker that dies fails the invoices it held (``BrokenProcessPool``, as
    reported before); this process renders the rest.
    """
    queue = deque(ids)
    held: dict[Future[Written | Failed], UUID] = {}
    pool = ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start_worker,
        initargs=opening,
    )
    try:
        starts = [pool.submit(_started) for _ in range(workers)]
        broken = False
        handed = 0

        def hand_out() -> None:
            nonlocal broken, handed
            if broken or any(start.done() and start.exception() for start in starts):
                return  # a worker could not start or died: this process renders the rest
            capacity = _QUEUED_PER_WORKER * sum(start.done() for start in starts)
            while queue and len(held) < capacity:
                # this process's cut fonts go with the first invoices handed out, ~0.1 s of a
                # worker's CPU each (one that gets none cuts them itself, as this process did)
                cuts = cuts_made(config.fonts) if handed < workers * _QUEUED_PER_WORKER else ()
                try:
                    future = pool.submit(_work, queue[0], directory, cuts)
                except BrokenProcessPool as error:
                    log.error("pdf worker failed", error=str(error))
                    broken = True
                    return
                held[future] = queue.popleft()
                handed += 1

        def collect(timeout: float | None) -> None:
            finished, _ = wait(held, timeout=timeout, return_when=FIRST_COMPLETED)
            for future in finished:
                invoice_id = held.pop(future)
                try:
                    result = future.result()
                except Exception as error:  # a worker that died (BrokenProcessPool)
                    log.error("pdf worker failed", aggregate_id=str(invoice_id), error=str(error))
                    result = Failed(invoice_id, _describe(error))
                record(invoice_id, result)

        while queue:
            invoice_id = queue.popleft()
            record(invoice_id, _render_or_fail(ledger, invoice_id, directory, config))
            collect(timeout=0)
            hand_out()
        while held:
            collect(timeout=None)
        answered = [start for start in starts if start.done()]
        if not answered:
            _stop(pool)  # none started: do not wait for their start-up to end the batch
        for start in answered:
            if start.exception() is not None:
                log.error("pdf worker could not start", error=str(start.exception()))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _stop(pool: ProcessPoolExecutor) -> None:
    """Stop a pool's processes now. ``ProcessPoolExecutor`` has no public way before Python
    3.14 (``terminate_workers``); its ``_processes`` (pid -> Process) has held them since 3.x.
    Without it, the batch waits for the workers to start and leave (as before)."""
    processes = getattr(pool, "_processes", None)
    if isinstance(processes, dict):
        for process in list(processes.values()):
            if isinstance(process, multiprocessing.process.BaseProcess):
                process.terminate()
