"""Read model: aged receivables, as of any date (table ``rm_aged_movement``).

Every change to what is owed on an issued invoice is a dated movement: +total when issued,
-credit, -allocation, +un-allocation, -total when voided, and a movement of 0 carrying the new
due date when an issued invoice's due date changes. What is owed on a day is the sum of
the movements up to that day, so the ageing of any past date is one query, and it matches the
invoices as the ledger recorded them by the end of that day (UTC). Buckets: current (not yet
due), 1-30, 31-60, 61-90 and over 90 days past the due date.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from domain.aggregate import Event
from domain.invoice import Invoice
from projections.view import Projection, Row, Table, ViewWriter, id_text, on

MOVEMENTS = Table(
    "rm_aged_movement",
    key=("position",),
    columns={
        "position": "int",
        "invoice_id": "text",
        "number": "text",
        "customer_id": "text",
        "customer_account": "text",
        "currency": "text",
        "due_date": "date",
        "on_date": "date",
        "amount": "amount",
    },
    indexes=(("on_date",), ("customer_id",)),
)
INVOICES = Table(
    "rm_aged_invoice",
    key=("invoice_id",),
    columns={
        "invoice_id": "text",
        "number": "text",
        "customer_id": "text",
        "customer_account": "text",
        "currency": "text",
        "due_date": "date",
    },
)

BUCKETS = ("current", "1-30", "31-60", "61-90", "90+")


class AgedReceivables(Projection):
    """Dated movements of what is owed per invoice; aged per customer by ``age``."""

    name = "aged_receivables"
    tables = (MOVEMENTS, INVOICES)

    @on(Invoice.Drafted, "customer_id", "customer_account", "currency", "due_date")
    def _drafted(self, event: Invoice.Drafted, position: int, view: ViewWriter) -> None:
        view.put(
            INVOICES,
            {
                "invoice_id": id_text(event.originator_id),
                "number": None,
                "customer_id": id_text(event.customer_id),
                "customer_account": event.customer_account,
                "currency": event.currency,
                "due_date": event.due_date,
            },
        )

    @on(Invoice.DatesChanged, "after")
    def _dates_changed(self, event: Invoice.DatesChanged, position: int, view: ViewWriter) -> None:
        if "due_date" in event.after:
            invoice = _invoice(view, event)
            invoice["due_date"] = event.after["due_date"]
            view.put(INVOICES, invoice)

    @on(Invoice.DueDateChanged, "timestamp", "after")
    def _due_date_changed(
        self, event: Invoice.DueDateChanged, position: int, view: ViewWriter
    ) -> None:
        # a movement of nothing, dated the change: ageing as of an earlier day keeps the old
        # due date (``age`` takes the due date of an invoice's last movement up to that day)
        invoice = _invoice(view, event)
        invoice["due_date"] = event.after
        view.put(INVOICES, invoice)
        _owed(view, invoice, position, event.timestamp.date(), Decimal(0))

    @on(Invoice.Issued, "number", "issued_on", "total")
    def _issued(self, event: Invoice.Issued, position: int, view: ViewWriter) -> None:
        invoice = _invoice(view, event)
        invoice["number"] = event.number
        view.put(INVOICES, invoice)
        _owed(view, invoice, position, event.issued_on, event.total)

    @on(Invoice.Credited, "timestamp", "amount")
    def _credited(self, event: Invoice.Credited, position: int, view: ViewWriter) -> None:
        _owed(view, _invoice(view, event), position, event.timestamp.date(), -event.amount)

    @on(Invoice.PaymentApplied, "timestamp", "amount")
    def _paid(self, event: Invoice.PaymentApplied, position: int, view: ViewWriter) -> None:
        _owed(view, _invoice(view, event), position, event.timestamp.date(), -event.amount)

    @on(Invoice.PaymentUnapplied, "timestamp", "amount")
    def _unpaid(self, event: Invoice.PaymentUnapplied, position: int, view: ViewWriter) -> None:
        _owed(view, _invoice(view, event), position, event.timestamp.date(), event.amount)

    @on(Invoice.Voided, "timestamp", "total")
    def _voided(self, event: Invoice.Voided, position: int, view: ViewWriter) -> None:
        _owed(view, _invoice(view, event), position, event.timestamp.date(), -event.total)


def _invoice(view: ViewWriter, event: Event) -> Row:
    invoice = view.get(INVOICES, id_text(event.originator_id))
    if invoice is None:
        raise LookupError(f"{MOVEMENTS.name}: invoice {event.originator_id} never drafted")
    return invoice


def _owed(view: ViewWriter, invoice: Row, position: int, on_date: date, amount: Decimal) -> None:
    """A dated change to what is owed on the invoice."""
    view.add(MOVEMENTS, {**invoice, "position": position, "on_date": on_date, "amount": amount})


def bucket(as_of: date, due_date: date) -> str:
    """The ageing bucket of an amount due on ``due_date``, seen on ``as_of``."""
    days = (as_of - due_date).days
    if days <= 0:
        return "current"
    if days <= 30:
        return "1-30"
    if days <= 60:
        return "31-60"
    if days <= 90:
        return "61-90"
    return "90+"


@dataclass
class AgedRow:
    """One customer's receivables in one currency, by bucket."""

    customer_id: str
    customer_account: str
    currency: str
    buckets: dict[str, Decimal] = field(default_factory=lambda: dict.fromkeys(BUCKETS, Decimal(0)))

    @property
    def total(self) -> Decimal:
        return sum(self.buckets.values(), Decimal(0))


def age(movements: Iterable[Row], as_of: date) -> list[AgedRow]:
    """Age movements dated up to ``as_of``: per invoice, then per customer and currency."""
    owed: dict[str, Decimal] = {}
    invoices: dict[str, Row] = {}
    for movement in movements:
        if movement["on_date"] > as_of:
            continue
        key = movement["invoice_id"]
        owed[key] = owed.get(key, Decimal(0)) + movement["amount"]
        invoices[key] = movement
    rows: dict[tuple[str, str], AgedRow] = {}
    for key, amount in owed.items():
        if amount == 0:
            continue
        invoice = invoices[key]
        group = (invoice["customer_id"], invoice["currency"])
        row = rows.setdefault(
            group, AgedRow(invoice["customer_id"], invoice["customer_account"], invoice["currency"])
        )
        row.buckets[bucket(as_of, invoice["due_date"])] += amount
    return sorted(rows.values(), key=lambda r: (r.customer_account, r.currency))
