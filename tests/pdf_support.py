"""Helpers the PDF tests share: invoices built with the domain's commands, text and pixels."""

from __future__ import annotations

import io
import subprocess
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from uuid import UUID, uuid5

import pypdf
from PIL import Image

from domain.aggregate import Stamp
from domain.invoice import BillingSnapshot, Invoice
from domain.invoice_line import InvoiceLine

NS = UUID("0b6a8f8e-93a4-4a4e-8f57-2d6f0c6a0a11")
STAMP = Stamp(actor="test", at=datetime(2026, 11, 1, 8, tzinfo=UTC), reason="test")


def billing(customer_name: str = "Zürich Telekom AG") -> BillingSnapshot:
    return BillingSnapshot(
        customer_name=customer_name,
        customer_account="ZRH01",
        billing_address="Bahnhofstrasse 1\n8001 Zürich",
        customer_tax_number="CHE-123.456.789",
        seller_name="Northwind Voice Ltd",
        seller_address="1 Exchange Sq\nLondon EC2A 2BR",
        seller_tax_number="GB123456789",
        payment_instructions="Pay by bank transfer to 20-00-00 12345678",
    )


def usage_line(n: int, description: str | None = None) -> InvoiceLine:
    return InvoiceLine(
        line_id=uuid5(NS, f"line-{n}"),
        description=description or f"Calls to destination {n:05d}",
        quantity=Decimal(100 + n % 50),
        unit_price=Decimal("0.0125"),
        tax_rate=Decimal("20") if n % 2 else Decimal("0"),
        period_start=date(2026, 10, 1),
        period_end=date(2026, 10, 31),
        unit="min",
    )


def draft_invoice(lines: list[InvoiceLine], currency: str = "EUR") -> Invoice:
    return Invoice.draft(
        uuid5(NS, f"invoice-{len(lines)}-{currency}"),
        customer_id=uuid5(NS, "customer"),
        customer_account="ZRH01",
        currency=currency,
        invoice_date=date(2026, 11, 1),
        due_date=date(2026, 12, 1),
        period_start=date(2026, 10, 1),
        period_end=date(2026, 10, 31),
        memo="",
        stamp=STAMP,
        # drafted with its lines in one event: add_line re-checks the totals of every line so
        # far, so adding 5000 lines one by one costs ~40 s of CPU for the same invoice
        lines=lines,
    )


def issued_invoice(
    lines: list[InvoiceLine], currency: str = "EUR", customer_name: str = "Zürich Telekom AG"
) -> Invoice:
    invoice = draft_invoice(lines, currency)
    invoice.issue("INV-2026-000042", date(2026, 11, 1), billing(customer_name), STAMP)
    return invoice


def page_texts(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages]


def flowing(text: str) -> str:
    """Extracted text with every run of whitespace as one space (wrapped lines run on)."""
    return " ".join(text.split())


def page_image(pdf: bytes, tmp_path: Path, dpi: int, page: int = 1) -> Image.Image:
    """Page ``page`` rendered by poppler's pdftoppm, in greyscale."""
    source = tmp_path / "page.pdf"
    source.write_bytes(pdf)
    prefix = tmp_path / "page"
    subprocess.run(
        [
            "pdftoppm",
            "-r",
            str(dpi),
            "-f",
            str(page),
            "-l",
            str(page),
            "-gray",
            "-png",
            "-singlefile",
            str(source),
            str(prefix),
        ],
        check=True,
    )
    with Image.open(f"{prefix}.png") as image:
        return image.convert("L")
