"""The same questions asked of each fake, so one test body checks every system."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tests.fakes.clearbooks import FakeClearBooks
from tests.fakes.freshbooks import FakeFreshBooks
from tests.fakes.xero import FakeXero


def contacts(fake: Any) -> list[str]:
    if isinstance(fake, FakeXero):
        return sorted(c["AccountNumber"] for c in fake.contacts.values())
    if isinstance(fake, FakeClearBooks):
        return sorted(e["external_id"] for e in fake.entities.values())
    assert isinstance(fake, FakeFreshBooks)
    # the account number rides in the client's private note: "tollbook:<id> account <number>"
    return sorted(c["note"].splitlines()[0].split(" account ", 1)[1] for c in fake.clients.values())


def invoices(fake: Any) -> dict[str, Decimal]:
    """Invoice number -> total as the remote computed it (credit notes excluded)."""
    if isinstance(fake, FakeXero):
        return {i["InvoiceNumber"]: i["Total"] for i in fake.invoices.values()}
    if isinstance(fake, FakeClearBooks):
        return {
            fake.number(n): fake.total(n) for n, i in fake.invoices.items() if i["type"] == "sales"
        }
    return {i["invoice_number"]: Decimal(i["amount"]["amount"]) for i in fake.invoices.values()}


def credit_notes(fake: Any) -> list[str]:
    if isinstance(fake, FakeXero):
        return [n["CreditNoteNumber"] for n in fake.credit_notes.values()]
    if isinstance(fake, FakeClearBooks):
        return [fake.number(n) for n, i in fake.invoices.items() if i["type"] == "cn-sales"]
    return [n["credit_number"] for n in fake.credit_notes.values()]


def payments(fake: Any) -> dict[str, Decimal]:
    """Invoice number -> total paid remotely."""
    paid: dict[str, Decimal] = {}
    if isinstance(fake, FakeXero):
        for p in fake.payments.values():
            if p["Status"] == "DELETED" or "Invoice" not in p:
                continue
            number = p["Invoice"]["InvoiceNumber"]
            paid[number] = paid.get(number, Decimal(0)) + p["Amount"]
    elif isinstance(fake, FakeClearBooks):
        for p in fake.payments.values():
            for allocation in [] if p["void"] else p["invoices"]:
                number = fake.number(allocation["id"])
                paid[number] = paid.get(number, Decimal(0)) + Decimal(allocation["amount"])
    else:
        # credit applied as payment ("Credit") is not money received; deleted ones are gone
        for p in fake.payments.values():
            if p["from_credit"] or p["vis_state"] != 0:
                continue
            number = fake.invoices[str(p["invoiceid"])]["invoice_number"]
            paid[number] = paid.get(number, Decimal(0)) + Decimal(p["amount"]["amount"])
    return paid


def voided(fake: Any) -> list[str]:
    if isinstance(fake, FakeXero):
        return [i["InvoiceNumber"] for i in fake.invoices.values() if i["Status"] == "VOIDED"]
    if isinstance(fake, FakeClearBooks):
        return [fake.number(n) for n, i in fake.invoices.items() if i["void"]]
    return [i["invoice_number"] for i in fake.invoices.values() if i["vis_state"] == 1]
