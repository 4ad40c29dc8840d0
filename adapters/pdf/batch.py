"""Rendering many invoices at once (``tollbook invoice pdf --all``): one process per core.

With N jobs this process renders too, beside N - 1 worker processes: it starts at once, while
each worker spends ~0.4 s of CPU starting (a fresh interpreter, fpdf2 and the rendering modules,
the fonts), which a batch of 100 one-page invoices (~25 ms each) does not amortise.

This process reads every invoice (a ledger cannot cross a process boundary) and hands a worker
the invoice's document, plain strings (``adapters.pdf.content``); the worker renders it and
writes the file itself, so only paths and checksums travel back. A worker has no ledger: it
imports neither the ledger nor the domain nor a database driver, and opens no connection
(``adapters.pdf.worker``). Workers are started with "spawn": forking a parent that holds
database connections and pool threads is unsafe.

An invoice that cannot be read (here), rendered or written (here or in a worker) is reported
(``Failed``) and the batch carries on: the others are written and listed in ``SHA256SUMS``.
The files do not depend on the number of workers: each PDF is rendered from its document
alone, and the results are sorted by file name.
"""

from __future__ import annotations

import calendar
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
from adapters.pdf.config import PdfConfig
from adapters.pdf.content import Document
from adapters.pdf.fonts import cuts_made
from adapters.pdf.sources import invoice_source
from adapters.pdf.worker import Failed as Failed
from adapters.pdf.worker import Written as Written
from adapters.pdf.worker import describe, failure, render_or_fail, start, started, work
from adapters.pdf.worker import file_name as file_name
from adapters.pdf.worker import write_atomically as write_atomically
from domain.errors import InvalidInput

log = structlog.get_logger("tollbook.pdf")


@dataclass(frozen=True, slots=True)
class Batch:
    """What a batch wrote (sorted by file name) and what it could not (in selection order)."""

    written: list[Written]
    failed: list[Failed]


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


def _read_or_fail(ledger: Ledger, invoice_id: UUID) -> Document | Failed:
    """One invoice's document, read here (one read of the invoice), or why it cannot be."""
    try:
        return invoice_source(ledger, invoice_id)
    except Exception as error:  # reported per invoice; the batch goes on
        return failure(invoice_id, error)


def _render_or_fail(
    ledger: Ledger, invoice_id: UUID, directory: Path, config: PdfConfig
) -> Written | Failed:
    """One invoice of a batch, read and rendered here: a failure is logged and returned, never
    raised, so that one bad invoice (an unreadable record, a full disk, a file in the way) does
    not stop the others."""
    document = _read_or_fail(ledger, invoice_id)
    if isinstance(document, Failed):
        return document
    return render_or_fail(invoice_id, document, directory, config)


def render_all(
    ledger: Ledger,
    invoice_ids: Iterable[UUID],
    directory: Path,
    *,
    jobs: int | None = None,
    config: PdfConfig | None = None,
    done: Callable[[Written | Failed], None] = lambda result: None,
    start_worker: Callable[[], None] = start,
) -> Batch:
    """Render every invoice into ``directory`` and write ``SHA256SUMS`` beside them.

    ``jobs`` processes render (default: every core): this one, which reads every invoice from
    ``ledger``, and ``jobs - 1`` workers, which render the documents it hands them. An invoice
    that fails is in ``Batch.failed`` and absent from ``SHA256SUMS``; the others are written
    whatever the number of jobs, to the same bytes. ``start_worker`` is each worker's
    initializer (a module-level function: it is pickled to the workers).
    """
    ids = list(dict.fromkeys(invoice_ids))  # each invoice once
    config = config or PdfConfig.from_env()  # fails fast on a bad logo or missing font
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(ids) or 1))
    results: dict[UUID, Written | Failed] = {}

    def record(invoice_id: UUID, result: Written | Failed) -> None:
        if isinstance(result, Written):  # here for every process's files (workers log none)
            path, digest = str(result.path), result.sha256
            log.info("pdf written", aggregate_id=str(invoice_id), path=path, sha256=digest)
        results[invoice_id] = result
        done(result)

    if jobs == 1:
        for invoice_id in ids:
            record(invoice_id, _render_or_fail(ledger, invoice_id, directory, config))
    else:
        _render_beside_workers(ledger, ids, directory, config, jobs - 1, start_worker, record)
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
    start_worker: Callable[[], None],
    record: Callable[[UUID, Written | Failed], None],
) -> None:
    """Render ``ids`` here and on ``workers`` processes, taking them in order from one queue.

    This process renders one invoice at a time and, between them, hands invoices to the
    workers that have started (each first runs ``started``): until one has, it renders alone,
    and a batch it finishes before any worker started does not wait for them (they are
    stopped). A worker that dies fails the invoices it held (``BrokenProcessPool``, as
    reported before); this process renders the rest. It reads each invoice it hands out; one
    that cannot be read is failed here and the next is handed out instead.
    """
    queue = deque(ids)
    held: dict[Future[Written | Failed], UUID] = {}
    pool = ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=start_worker,
    )
    try:
        starts = [pool.submit(started) for _ in range(workers)]
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
                invoice_id = queue.popleft()
                document = _read_or_fail(ledger, invoice_id)
                if isinstance(document, Failed):
                    record(invoice_id, document)
                    continue
                try:
                    future = pool.submit(work, invoice_id, document, directory, cuts)
                except BrokenProcessPool as error:
                    log.error("pdf worker failed", error=str(error))
                    broken = True
                    queue.appendleft(invoice_id)  # read again when this process renders it
                    return
                held[future] = invoice_id
                handed += 1

        def collect(timeout: float | None) -> None:
            finished, _ = wait(held, timeout=timeout, return_when=FIRST_COMPLETED)
            for future in finished:
                invoice_id = held.pop(future)
                try:
                    result = future.result()
                except Exception as error:  # a worker that died (BrokenProcessPool)
                    log.error("pdf worker failed", aggregate_id=str(invoice_id), error=str(error))
                    result = Failed(invoice_id, describe(error))
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
