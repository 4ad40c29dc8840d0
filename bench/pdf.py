"""PDF speed: invoices per second for a 1-page invoice, seconds for a 5,000-line invoice, each
beside fpdf2's raw speed for the same table drawn with a plain ``cell()`` loop in the same run.

    .venv/bin/python bench/pdf.py [--lines 5000] [--repeat 3]

Target: the full invoice within 1.5x of the raw loop (which has no wrapping, no totals, no
page furniture: it is the floor fpdf2 itself sets).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import UUID, uuid5

from fpdf import FPDF

from adapters.pdf.config import PdfConfig
from adapters.pdf.document import Document, invoice_document
from adapters.pdf.render import render
from domain.aggregate import Stamp
from domain.invoice import BillingSnapshot, Invoice
from domain.invoice_line import InvoiceLine

NS = UUID("6f1f7c3e-6b0e-4a53-9a55-0b9c3f1de001")
DESTINATIONS = ("UK mobile", "UK landline", "Germany mobile", "France landline", "Poland mobile")


def invoice(lines: int) -> Invoice:
    """An issued invoice with ``lines`` usage-like lines, built with the domain's own commands."""
    stamp = Stamp(actor="bench", at=datetime(2026, 11, 1, 8, tzinfo=UTC))
    inv = Invoice.draft(
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
    )
    for n in range(lines):
        inv.add_line(
            InvoiceLine(
                line_id=uuid5(NS, f"line-{n}"),
                description=f"Calls to {DESTINATIONS[n % 5]} on 2026-10-{n % 31 + 1:02d}",
                quantity=Decimal(1000 + n % 997) / 10,
                unit_price=Decimal("0.0123"),
                tax_rate=Decimal("20") if n % 3 else Decimal("0"),
                period_start=date(2026, 10, 1),
                period_end=date(2026, 10, 31),
                unit="min",
            ),
            stamp,
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
    inv.issue("INV-2026-000001", date(2026, 11, 1), billing, stamp)
    return inv


def raw_loop(document: Document, config: PdfConfig) -> bytes:
    """The same rows with the same fonts, as a bare cell loop with a repeated header."""
    pdf = FPDF(unit="mm", format="A4")
    pdf.set_auto_page_break(False)
    pdf.add_font("body", "", config.fonts.regular)
    pdf.add_font("body", "B", config.fonts.bold)
    widths = (64, 28, 23, 22, 12, 31)

    def header() -> None:
        pdf.add_page()
        pdf.set_font("body", "B", 8)
        for w, title in zip(
            widths, ("Description", "Period", "Quantity", "Unit price", "Tax", "Net"), strict=True
        ):
            pdf.cell(w, 6, title, border="B")
        pdf.ln()
        pdf.set_font("body", "", 8)

    header()
    for row in document.rows:
        if pdf.get_y() > 270:
            header()
        pdf.cell(widths[0], 5.5, row.description)
        pdf.cell(widths[1], 5.5, row.period)
        pdf.cell(widths[2], 5.5, row.quantity, align="R")
        pdf.cell(widths[3], 5.5, row.unit_price, align="R")
        pdf.cell(widths[4], 5.5, row.tax_rate, align="R")
        pdf.cell(widths[5], 5.5, row.net, align="R")
        pdf.ln()
    return bytes(pdf.output())


def paired(
    ours: Callable[[], object], raw: Callable[[], object], repeat: int
) -> tuple[float, float]:
    """Median seconds of each, run alternately so that a busy neighbour slows both alike."""
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeat):
        for func, runs in ((ours, times[0]), (raw, times[1])):
            start = time.perf_counter()
            func()
            runs.append(time.perf_counter() - start)
    return statistics.median(times[0]), statistics.median(times[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    config = PdfConfig.from_env()

    small = invoice_document(invoice(12))
    big_invoice = invoice(args.lines)
    big = invoice_document(big_invoice)
    one_page, one_page_raw = paired(
        lambda: render(small, config), lambda: raw_loop(small, config), args.repeat * 5
    )
    full, raw = paired(
        lambda: render(invoice_document(big_invoice), config),
        lambda: raw_loop(big, config),
        args.repeat,
    )
    pages = render(big, config).page_count

    print(
        f"1-page invoice (12 lines): {1 / one_page:7.1f} PDFs/s"
        f"   raw cell loop {1 / one_page_raw:7.1f} PDFs/s   ratio {one_page / one_page_raw:.2f}x"
    )
    print(
        f"{args.lines}-line invoice ({pages} pages): {full:6.2f} s"
        f"   raw cell loop {raw:6.2f} s   ratio {full / raw:.2f}x (target <= 1.5x)"
    )


if __name__ == "__main__":
    main()
