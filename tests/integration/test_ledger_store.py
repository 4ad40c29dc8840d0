"""The ledger on a real store (SQLite and PostgreSQL): events persist and replay exactly."""

from __future__ import annotations

from decimal import Decimal as D
from uuid import uuid4

import pytest

from adapters.store.database import Database
from adapters.store.lookup import load_aggregates
from domain.errors import NotFound
from domain.invoice import BillingSnapshot, Invoice
from domain.invoice_line import InvoiceLine
from domain.numbering import DocumentNumber, NumberSequence, number_id

BILLING = BillingSnapshot(
    customer_name="Acme",
    customer_account="ACME",
    billing_address="",
    customer_tax_number="",
    seller_name="tollbook",
    seller_address="",
    seller_tax_number="",
)


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


def test_many_aggregates_load_in_one_read_exactly_as_the_repository_loads_them(
    make_ledger, store_url
):
    ledger = make_ledger()
    ledger.register_customer("t", account_number="ACME", name="Acme", currency="GBP")
    ids = [ledger.create_invoice("ACME", "t") for _ in range(3)]
    for n, invoice_id in enumerate(ids):
        ledger.add_line(invoice_id, "t", description=f"L{n}", quantity=D(n + 1), unit_price=D(2))
    ledger.issue_invoice(ids[1], "t")
    ledger.issue_invoice(ids[2], "t")
    ledger.void_invoice(ids[2], "t", reason="wrong customer")
    missing = uuid4()

    found = load_aggregates(ledger, Database.from_url(store_url), [*ids, missing, ids[0]])

    assert set(found) == set(ids)  # the unknown id is simply absent; a repeated one once
    for invoice_id in ids:
        expected = ledger.invoice(invoice_id)
        assert isinstance(found[invoice_id], Invoice)
        assert found[invoice_id].version == expected.version
        assert (found[invoice_id].state, found[invoice_id].number) == (
            expected.state,
            expected.number,
        )
        assert found[invoice_id].lines == expected.lines
    assert [found[i].state for i in ids] == ["draft", "issued", "void"]


def test_an_issued_number_is_recorded_with_its_document_and_found_in_one_read(make_ledger):
    ledger = make_ledger()
    ledger.register_customer("t", account_number="ACME", name="Acme", currency="GBP")
    invoice_id = ledger.create_invoice("ACME", "t")
    ledger.add_line(invoice_id, "t", description="Calls", quantity=D(1), unit_price=D(5))
    number = ledger.issue_invoice(invoice_id, "t")
    note = ledger.issue_credit_note(number, "t", "goodwill", amount=D(1))

    [given] = ledger.events_of(number_id("invoice", number))
    assert isinstance(given, DocumentNumber.Given)
    assert (given.number, given.document_id) == (number, invoice_id)
    [given_note] = ledger.events_of(number_id("credit_note", note))
    assert given_note.number == note
    assert make_ledger().invoice(number).id == invoice_id
    assert make_ledger().credit_note(note).number == note


def test_a_number_issued_before_numbers_were_recorded_is_still_found(make_ledger):
    # a store written by an earlier version: the invoice and its sequence, no DocumentNumber
    ledger = make_ledger()
    customer = ledger.register_customer("t", account_number="ACME", name="Acme", currency="GBP")
    stamp = ledger.stamp("t")
    invoice = Invoice.draft(
        uuid4(),
        customer_id=customer,
        customer_account="ACME",
        currency="GBP",
        invoice_date=stamp.at.date(),
        due_date=stamp.at.date(),
        period_start=None,
        period_end=None,
        memo="",
        stamp=stamp,
        lines=[
            InvoiceLine(
                line_id=uuid4(), description="Calls", quantity=D(1), unit_price=D(5), tax_rate=D(0)
            )
        ],
    )
    sequence = NumberSequence.start("invoice", "all", stamp)
    number = sequence.take("OLD-{seq}", stamp.at.date(), invoice.id, stamp)
    invoice.issue(number, stamp.at.date(), BILLING, stamp)
    ledger.save(invoice, sequence)

    with pytest.raises(NotFound):
        ledger.events_of(number_id("invoice", number))
    assert make_ledger().invoice(number).id == invoice.id
