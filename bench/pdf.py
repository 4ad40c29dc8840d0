"""PDF speed (issue #16, row "PDF, 2,000 lines"): one long invoice against fpdf2's own floor, and
a month's batch on two worker processes against one.

    .venv/bin/python -m bench.pdf            # a 2,000-line invoice; a batch of 1,000 invoices
    .venv/bin/python -m bench.pdf --quick    # 500 lines; a batch of 100

1. A 2,000-line invoice, through the real path: ``invoice_document`` (formatting every line)
   and ``render`` (layout, drawing, fonts, output to bytes). Yardstick: a bare fpdf2 ``cell()``
   loop over the same rows (the same six texts per row, taken from our document), a header row
   per page, A4, the same DejaVu fonts, written to bytes. Both sides load the fonts the same
   way: ``adapters.pdf.fonts.add_font``, which parses each font file once per process (the first
   untimed warm-up parses them for both). Goal: ours <= 1.2x the yardstick's seconds.
2. A batch of typical 1-page invoices (12 lines each) in a fresh PostgreSQL database, rendered by
   the batch path of ``tollbook invoice pdf --all --period 2026-10 -o DIR --workers N``
   (``invoice_ids_for`` + ``render_all``): 2 workers (this process and one spawned worker
   process, started anew for each round, as ``--workers 2`` runs) against 1 (this process alone,
   as ``--workers 1`` runs). Goal: 2 workers >= 1.6x the throughput of one. Every round's files
   must equal the 1-worker files byte for byte (SHA256SUMS compared).

Rounds alternate ours / yardstick; the median of 3 is reported with the load average. The CPU
time per PDF of each side (this process and its workers) is printed too: on a machine whose
kernel shares CPU between sessions (``/proc/sys/kernel/sched_autogroup_enabled``) and that
other sessions keep busy, a second worker gets no more CPU, and only these figures show how the
work would scale (docs/performance.md, "## PDF").
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING
from uuid import UUID, uuid5

# A spawned worker of the batch imports this module first, as its __main__ (multiprocessing's
# "spawn" does so for the parent's main module): what it imports at the top, every worker of
# the bench imports, while the command's main module (the ``tollbook`` script) imports next to
# nothing. So the ledger, the domain and the harness (psycopg) are imported where they are used.
if TYPE_CHECKING:
    from adapters.ledger.application import Ledger
    from adapters.pdf.config import PdfConfig
    from adapters.pdf.content import Document
    from bench.harness import Goal
    from domain.invoice import Invoice
    from domain.invoice_line import InvoiceLine

NS = UUID("6f1f7c3e-6b0e-4a53-9a55-0b9c3f1de001")
DESTINATIONS = ("UK mobile", "UK landline", "Germany mobile", "France landline", "Poland mobile")
ROUNDS = 3
ACTOR = "bench"


def usage_lines(count: int, seed: str = "") -> list[InvoiceLine]:
    from domain.invoice_line import InvoiceLine

    return [
        InvoiceLine(
            line_id=uuid5(NS, f"line-{seed}-{n}"),
            description=f"Calls to {DESTINATIONS[n % 5]} on 2026-10-{n % 31 + 1:02d}",
            quantity=Decimal(1000 + n % 997) / 10,
            unit_price=Decimal("0.0123"),
            tax_rate=Decimal("20") if n % 3 else Decimal("0"),
            period_start=date(2026, 10, 1),
            period_end=date(2026, 10, 31),
            unit="min",
        )
        for n in range(count)
    ]


def long_invoice(lines: int) -> Invoice:
    """An issued invoice with ``lines`` usage lines, built with the domain's own commands."""
    from domain.aggregate import Stamp
    from domain.invoice import BillingSnapshot, Invoice

    stamp = Stamp(actor=ACTOR, at=datetime(2026, 11, 1, 8, tzinfo=UTC))
    invoice = Invoice.draft(
        uuid5(NS, f"invoice-{lines}"),
        customer_id=uuid5(NS, "customer"),
        customer_account="ZRH01",
        currency="EUR",
        invoice_date=date(2026, 11, 1),
        due_date=date(2026, 12, 1),
        period_start=date(2026, 10, 1),
        period_end=date(2026, 10, 31),
        memo="",
        stamp=stamp,
        lines=usage_lines(lines),
    )
    billing = BillingSnapshot(
        customer_name="Zürich Telekom AG",
        customer_account="ZRH01",
        billing_address="Bahnhofstrasse 1\n8001 Zürich",
        customer_tax_number="CHE-123.456.789",
        seller_name="Northwind Voice Ltd",
        seller_address="1 Exchange Sq\nLondon EC2A 2BR",
        seller_tax_number="GB123456789",
        payment_instructions="Pay by bank transfer to 20-00-00 12345678",
    )
    invoice.issue("INV-2026-000001", date(2026, 11, 1), billing, stamp)
    return invoice


WIDTHS = (64, 28, 23, 22, 12, 31)  # our layout's columns (mm)
TITLES = ("Description", "Period", "Quantity", "Unit price", "Tax", "Net")


def cell_loop(document: Document, config: PdfConfig) -> bytes:
    """The yardstick: the same rows as a bare fpdf2 cell loop, a header row per page, A4."""
    from fpdf import FPDF

    from adapters.pdf.fonts import add_font

    pdf = FPDF(unit="mm", format="A4")
    pdf.set_auto_page_break(False)
    add_font(pdf, "body", "", config.fonts.regular)  # parsed once per process, as ours
    add_font(pdf, "body", "B", config.fonts.bold)

    def page_header() -> None:
        pdf.add_page()
        pdf.set_font("body", "B", 8)
        for width, title in zip(WIDTHS, TITLES, strict=True):
            pdf.cell(width, 6, title, border="B")
        pdf.ln()
        pdf.set_font("body", "", 8)

    page_header()
    for row in document.rows:
        if pdf.get_y() > 270:
            page_header()
        pdf.cell(WIDTHS[0], 5.5, row.description)
        pdf.cell(WIDTHS[1], 5.5, row.period)
        pdf.cell(WIDTHS[2], 5.5, row.quantity, align="R")
        pdf.cell(WIDTHS[3], 5.5, row.unit_price, align="R")
        pdf.cell(WIDTHS[4], 5.5, row.tax_rate, align="R")
        pdf.cell(WIDTHS[5], 5.5, row.net, align="R")
        pdf.ln()
    return bytes(pdf.output())


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the pool's workers)."""
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def seconds(work: object) -> float:
    start = time.perf_counter()
    work()  # type: ignore[operator]
    return time.perf_counter() - start


def long_invoice_goal(lines: int, config: PdfConfig) -> Goal:
    from adapters.pdf.document import invoice_document
    from adapters.pdf.render import render
    from bench.harness import Goal, interleave, median

    invoice = long_invoice(lines)
    rows = invoice_document(invoice)
    ours = render(invoice_document(invoice), config)  # warm-up: fonts parsed, caches filled
    cell_loop(rows, config)
    print(f"  {lines} lines: {ours.page_count} pages, {len(ours.pdf):,} bytes", flush=True)
    rounds = interleave(
        ROUNDS,
        ours=lambda: seconds(lambda: render(invoice_document(invoice), config)),
        yardstick=lambda: seconds(lambda: cell_loop(rows, config)),
    )
    return Goal.at_most(
        f"PDF, {lines:,}-line invoice",
        ours=median(rounds["ours"]),
        yardstick=median(rounds["yardstick"]),
        unit="s",
        yardstick_name="fpdf2 cell loop",
        target=1.2,
    )


def fill(ledger: Ledger, invoices: int) -> None:
    """``invoices`` issued October invoices of 12 lines over 20 customers."""
    from domain.changes import SettingsChanges

    ledger.change_settings(
        SettingsChanges.model_validate(
            {"company_name": "Northwind Voice Ltd", "address": "1 Exchange Sq\nLondon EC2A 2BR"}
        ),
        ACTOR,
    )
    accounts = [f"C{n:03d}" for n in range(20)]
    for n, account in enumerate(accounts):
        ledger.register_customer(
            ACTOR,
            account_number=account,
            name=f"Customer {n} Telekom AG",
            currency="EUR",
            tax_rate=Decimal("20"),
            tax_description="VAT",
            payment_terms_days=30,
        )
    for n in range(invoices):
        invoice_id = ledger.create_invoice(
            accounts[n % len(accounts)],
            ACTOR,
            invoice_date=date(2026, 11, 1),
            period_start=date(2026, 10, 1),
            period_end=date(2026, 10, 31),
            lines=usage_lines(12, seed=str(n)),
        )
        ledger.issue_invoice(invoice_id, ACTOR)


def batch_goal(invoices: int) -> Goal:
    from adapters.config import build_ledger
    from adapters.pdf.batch import invoice_ids_for, render_all
    from bench.harness import Goal, interleave, median, own_database

    with own_database("postgres", "pdf") as url, tempfile.TemporaryDirectory() as folder:
        ledger = build_ledger(url)
        try:
            began = time.perf_counter()
            fill(ledger, invoices)
            ids = invoice_ids_for(ledger, "2026-10")  # the selection of --all --period
            assert len(ids) == invoices, (len(ids), invoices)
            print(f"  {invoices} invoices stored in {time.perf_counter() - began:.0f} s")
            reference: list[bytes] = []  # SHA256SUMS of the first 1-worker run
            cpu: dict[int, list[float]] = {1: [], 2: []}  # CPU seconds per PDF, all processes

            def rate(workers: int) -> float:
                directory = Path(folder) / f"{workers}-workers"
                used = _cpu_seconds()
                start = time.perf_counter()
                batch = render_all(ledger, ids, directory, jobs=workers)
                took = time.perf_counter() - start
                cpu[workers].append((_cpu_seconds() - used) / invoices)
                assert not batch.failed and len(batch.written) == invoices, batch.failed[:3]
                sums = (directory / "SHA256SUMS").read_bytes()
                if sums != (reference or [sums])[0]:
                    raise AssertionError(f"{workers} workers wrote other files than 1 worker")
                reference[:] = [sums]
                shutil.rmtree(directory)
                return invoices / took

            # 1 worker first in each round: its first run gives the reference checksums
            rounds = interleave(ROUNDS, yardstick=lambda: rate(1), ours=lambda: rate(2))
        finally:
            ledger.close()
    one, two = median(cpu[1]) * 1000, median(cpu[2]) * 1000
    print(
        f"  CPU per PDF (this process and its workers): 1 worker {one:.0f} ms,"
        f" 2 workers {two:.0f} ms"
    )
    return Goal.at_least(
        f"PDF batch of {invoices:,} 1-page invoices, 2 workers",
        ours=median(rounds["ours"]),
        yardstick=median(rounds["yardstick"]),
        unit="PDFs/s",
        yardstick_name="1 worker",
        target=1.6,
        note=(
            f"same SHA256SUMS as 1 worker; CPU per PDF 1 worker {one:.0f} ms, 2 workers"
            f" {two:.0f} ms (with their start-up)"
        ),
    )


def main() -> None:
    from adapters.logging import configure_logging
    from adapters.pdf.config import PdfConfig
    from bench.harness import header, report

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="500 lines, a batch of 100")
    args = parser.parse_args()
    configure_logging(level="warning")
    lines, invoices = (500, 100) if args.quick else (2000, 1000)
    header(f"PDF: a {lines:,}-line invoice; a batch of {invoices:,} invoices on 2 workers")
    config = PdfConfig.from_env()
    report(long_invoice_goal(lines, config), batch_goal(invoices))


if __name__ == "__main__":
    main()
