"""The ledger on a real store (SQLite and PostgreSQL): events persist and replay exactly."""

from __future__ import annotations

from decimal import Decimal as D
from uuid import uuid4

from domain.invoice import Invoice
from domain.invoice_line import InvoiceLine


def test_an_issued_invoice_reloads_from_the_store_with_exact_decimals(make_ledger):
    ledger = make_ledger()
    ledger.register_customer(
        "t",
        account_number="ACME",
        name="Acme",
        currency="GBP",
        tax_rate=D("20"),
        tax_description="VAT 20%",
        payment_terms_days=14,
    )
    invoice_id = ledger.create_invoice("ACME", "t")
    ledger.add_line(
        invoice_id, "t", description="Calls", quantity=D("1234.5"), unit_price=D("0.0123")
    )
    number = ledger.issue_invoice(invoice_id, "t")

    reloaded = make_ledger().invoice(number)

    assert isinstance(reloaded, Invoice)
    line = next(iter(reloaded.lines.values()))
    assert line.unit_price == D("0.0123") and isinstance(line.quantity, D)
    assert (reloaded.totals.net, reloaded.totals.tax, reloaded.totals.total) == (
        D("15.18"),
        D("3.04"),
        D("18.22"),
    )
    assert reloaded.number == "INV-2026-000001"


def test_an_invoice_drafted_with_many_lines_is_one_large_event_that_reloads_exactly(make_ledger):
    ledger = make_ledger()
    ledger.register_customer(
        "t",
        account_number="ACME",
        name="Acme",
        currency="GBP",
        tax_rate=D("20"),
        tax_description="VAT 20%",
        payment_terms_days=14,
    )
    lines = [
        InvoiceLine(
            line_id=uuid4(),
            description=f"Calls to destination {n} — ☎ {'x' * 100}",
            quantity=D(1),
            unit_price=D(n).scaleb(-6),
            tax_rate=D("20"),
        )
        for n in range(1, 201)
    ]  # ~40 KB of JSON: kept compressed by the store, read back as written
    invoice_id = ledger.create_invoice("ACME", "t", lines=lines)

    reloaded = make_ledger()
    assert [type(e).__name__ for e in reloaded.events_of(invoice_id)] == ["Drafted"]
    assert list(reloaded.invoice(invoice_id).lines.values()) == lines
