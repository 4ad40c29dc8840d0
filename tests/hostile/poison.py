"""Poisoned stores: events holding values beyond the domain's limits, saved the way a ledger
that predates the limits saved them.

The events are built with pydantic's ``model_construct`` (no validation, as the commands of
earlier versions did not refuse these values) and written through the ledger's own mapper and
hash-chained recorder, so they sit in the log exactly as an earlier version would have left
them: the audit chain covers them, and every reader decodes them from stored JSON.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

from adapters.ledger.application import Ledger
from domain.aggregate import Event
from domain.customer import Customer, CustomerProfile, customer_id_for
from domain.invoice import Invoice
from domain.invoice_line import InvoiceLine

STAMP_AT = datetime(2026, 10, 2, 9, 0, tzinfo=UTC)


def append_unchecked(ledger: Ledger, kind: type[Event], aggregate_id: UUID, **fields: Any) -> int:
    """Append one event of ``kind`` to the aggregate without any validation; returns its
    position in the log."""
    version = len(list(ledger.events.get(aggregate_id))) + 1
    event = kind.model_construct(
        originator_id=aggregate_id,
        originator_version=version,
        timestamp=STAMP_AT,
        actor="finance:legacy",
        reason=None,
        **fields,
    )
    ledger.recorder.insert_events([ledger.mapper.to_stored_event(event)])
    return ledger.recorder.max_notification_id() or 0


def line(**overrides: Any) -> InvoiceLine:
    """A manual invoice line, unchecked: ``overrides`` may hold any value."""
    values: dict[str, Any] = {
        "line_id": uuid4(),
        "description": "Calls",
        "quantity": Decimal(1),
        "unit_price": Decimal("10.00"),
        "tax_rate": Decimal(20),
        "tax_description": "VAT 20%",
        "period_start": None,
        "period_end": None,
        "package_id": None,
        "kind": "manual",
        "unit": "",
        "source": None,
    }
    values.update(overrides)
    return InvoiceLine.model_construct(**values)


def poisoned_line(ledger: Ledger, invoice_id: UUID, **overrides: Any) -> int:
    """A line added to a draft with values the domain would refuse today."""
    return append_unchecked(ledger, Invoice.LineAdded, invoice_id, line=line(**overrides))


def poisoned_draft(ledger: Ledger, customer: str, **overrides: Any) -> tuple[UUID, int]:
    """A draft invoice opened with fields the domain would refuse today."""
    found = ledger.customer(customer)
    profile = found.registered
    fields: dict[str, Any] = {
        "customer_id": found.id,
        "customer_account": profile.account_number,
        "currency": profile.currency,
        "invoice_date": date(2026, 10, 1),
        "due_date": date(2026, 10, 15),
        "period_start": None,
        "period_end": None,
        "memo": "",
        "lines": (line(),),
    }
    fields.update(overrides)
    invoice_id = uuid4()
    return invoice_id, append_unchecked(ledger, Invoice.Drafted, invoice_id, **fields)


def poisoned_customer(ledger: Ledger, account: str, **overrides: Any) -> tuple[UUID, int]:
    """A customer registered with a profile the domain would refuse today."""
    values: dict[str, Any] = {
        "account_number": account,
        "name": f"{account} Ltd",
        "billing_address": "",
        "tax_number": "",
        "email": "",
        "currency": "GBP",
        "tax_rate": Decimal(20),
        "tax_description": "VAT 20%",
        "payment_terms_days": 14,
        "invoice_line_grouping": None,
        "external_accounting_id": "",
        "time_zone": "UTC",
        "invoice_schedule": None,
    }
    values.update(overrides)
    customer_id = customer_id_for(account)
    position = append_unchecked(
        ledger,
        Customer.Registered,
        customer_id,
        profile=CustomerProfile.model_construct(**values),
    )
    return customer_id, position


@dataclass(frozen=True)
class Poison:
    """One way a store can hold an out-of-range event: ``write`` puts it in a ledger that has
    a customer ACME and returns the aggregate it poisoned and the event's position."""

    name: str
    write: Callable[[Ledger], tuple[UUID, int]]

    def __str__(self) -> str:
        return self.name


def _draft_with(**line_values: Any) -> Callable[[Ledger], tuple[UUID, int]]:
    def write(ledger: Ledger) -> tuple[UUID, int]:
        invoice_id = ledger.create_invoice("ACME", "finance:test")
        return invoice_id, poisoned_line(ledger, invoice_id, **line_values)

    return write


def _draft(**fields: Any) -> Callable[[Ledger], tuple[UUID, int]]:
    return lambda ledger: poisoned_draft(ledger, "ACME", **fields)


def _customer(account: str, **fields: Any) -> Callable[[Ledger], tuple[UUID, int]]:
    def write(ledger: Ledger) -> tuple[UUID, int]:
        customer_id, position = poisoned_customer(ledger, account, **fields)
        # and an invoice of that customer, so the read models carry its values
        ledger.create_invoice(
            customer_id,
            "finance:test",
            invoice_date=date(2026, 10, 1),
            due_date=date(2026, 10, 15),  # not from its terms: writing is not what is tested
        )
        return customer_id, position

    return write


HUGE = Decimal("123456789012345678901234567890")  # the unit price: 30 digits

POISONS = [
    Poison("huge unit price", _draft_with(unit_price=HUGE)),
    Poison("huge quantity", _draft_with(quantity=Decimal(10) ** 30)),
    Poison("unit price 1E+400", _draft_with(unit_price=Decimal("1E+400"))),
    Poison("tax rate 1E+999999", _draft_with(tax_rate=Decimal("1E+999999"))),
    Poison("1 MB description", _draft_with(description="x" * 1_000_000)),
    Poison("control characters", _draft_with(description="a\x00b\x1b[31m\u202ec\r\n")),
    # refused by every command's text check (domain/limits.py), so reconcile lists them too
    Poison("line separator and a noncharacter", _draft_with(description="a\u2028b\uffffc")),
    Poison(
        "dates at the end of the calendar",
        _draft(
            invoice_date=date(9999, 12, 31),
            due_date=date(9999, 12, 31),
            period_start=date(9999, 12, 1),
            period_end=date(9999, 12, 31),
        ),
    ),
    Poison("dates at the start of the calendar", _draft(invoice_date=date(1, 1, 1))),
    Poison(
        "lines with huge amounts",
        _draft(lines=(line(unit_price=HUGE), line(quantity=Decimal("1E+30")))),
    ),
    Poison("1 MB customer name", _customer("BIG", name="N" * 1_000_000)),
    Poison("NUL in an account number", _customer("NUL\x00ACC")),
    Poison("escapes in an account number", _customer("ESC\x1b[2J\u202eACC")),
    Poison("payment terms of 10^9 days", _customer("TERMS", payment_terms_days=10**9)),
]
