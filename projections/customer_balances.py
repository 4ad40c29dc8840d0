"""Read model: what each customer owes and holds, per currency (table ``rm_balances``).

Applies the same rules as the pure fold in projections/balances.py, written independently so
``tollbook reconcile`` compares two derivations, not one derivation with itself. Only completed
payments count; a cancelled payment that had completed is taken back out.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from domain.aggregate import Event
from domain.credit_note import CreditNote
from domain.invoice import Invoice
from domain.payment import Payment
from projections.view import Handler, Projection, Row, Table, ViewWriter, id_text, on

AMOUNTS = ("invoiced", "credited", "received", "allocated", "refunded")


def _derive(row: Row) -> None:
    """Unallocated credit, what is outstanding and the net due, from the moved columns."""
    row["unallocated"] = row["received"] - row["allocated"] - row["refunded"]
    row["outstanding"] = row["invoiced"] - row["credited"] - row["allocated"]
    row["net_due"] = row["outstanding"] - row["unallocated"]


BALANCES = Table(
    "rm_balances",
    key=("customer_id", "currency"),
    columns={
        "customer_id": "text",
        "currency": "text",
        "customer_account": "text",
        **dict.fromkeys(AMOUNTS, "amount"),
        "unallocated": "amount",
        "outstanding": "amount",
        "net_due": "amount",
        "position": "int",
    },
    indexes=(("customer_account",),),
    derive=_derive,
)
INVOICE_OWNERS = Table(
    "rm_balances_invoice",
    key=("invoice_id",),
    columns={"invoice_id": "text", "customer_id": "text", "customer_account": "text"},
)
PAYMENT_OWNERS = Table(
    "rm_balances_payment",
    key=("payment_id",),
    columns={"payment_id": "text", "customer_id": "text", "customer_account": "text"},
)


def _moving(
    kind: type[Event], owners: Table, column: str, amount: str = "amount", sign: int = 1
) -> Handler:
    """The handler of an event that moves one balance column by its ``amount`` field, for the
    owner of the invoice or payment it belongs to."""

    @on(kind, amount, "currency")
    def handle(self: Projection, event: Any, position: int, view: ViewWriter) -> None:
        owner = _owner(view, owners, event)
        _move(view, owner, column, sign * getattr(event, amount), event.currency, position)

    return handle


class CustomerBalances(Projection):
    """Invoiced, credited, received, allocated, refunded; unallocated credit and outstanding."""

    name = "balances"
    tables = (BALANCES, INVOICE_OWNERS, PAYMENT_OWNERS)

    @on(Invoice.Drafted, "customer_id", "customer_account")
    def _drafted(self, event: Invoice.Drafted, position: int, view: ViewWriter) -> None:
        view.put(
            INVOICE_OWNERS,
            {
                "invoice_id": id_text(event.originator_id),
                "customer_id": id_text(event.customer_id),
                "customer_account": event.customer_account,
            },
        )

    # what each money event moves, in which column, from the invoice's or payment's owner
    _issued = _moving(Invoice.Issued, INVOICE_OWNERS, "invoiced", "total")
    _voided = _moving(Invoice.Voided, INVOICE_OWNERS, "invoiced", "total", sign=-1)
    _completed = _moving(Payment.Completed, PAYMENT_OWNERS, "received")
    _allocated = _moving(Payment.Allocated, PAYMENT_OWNERS, "allocated")
    _unallocated = _moving(Payment.Unallocated, PAYMENT_OWNERS, "allocated", sign=-1)
    _refunded = _moving(Payment.Refunded, PAYMENT_OWNERS, "refunded")

    @on(CreditNote.Issued, "customer_id", "customer_account", "total", "currency")
    def _credited(self, event: CreditNote.Issued, position: int, view: ViewWriter) -> None:
        owner = {
            "customer_id": id_text(event.customer_id),
            "customer_account": event.customer_account,
        }
        _move(view, owner, "credited", event.total, event.currency, position)

    @on(Payment.Received, "details", "status")
    def _received(self, event: Payment.Received, position: int, view: ViewWriter) -> None:
        details = event.details
        owner = {
            "payment_id": id_text(event.originator_id),
            "customer_id": id_text(details.customer_id),
            "customer_account": details.customer_account,
        }
        view.put(PAYMENT_OWNERS, owner)
        received = details.amount if event.status == "completed" else Decimal(0)
        _move(view, owner, "received", received, details.currency, position)

    @on(Payment.Cancelled, "amount", "currency", "previous_status")
    def _cancelled(self, event: Payment.Cancelled, position: int, view: ViewWriter) -> None:
        back = event.amount if event.previous_status == "completed" else Decimal(0)
        _move(
            view, _owner(view, PAYMENT_OWNERS, event), "received", -back, event.currency, position
        )


def _move(
    view: ViewWriter, owner: Row, column: str, amount: Decimal, currency: str, position: int
) -> None:
    """Move one balance column of the owner's row in ``currency`` (what follows from it is
    worked out when the batch ends: ``_derive``)."""
    row = view.get(BALANCES, owner["customer_id"], currency) or _empty(owner, currency)
    row[column] += amount
    row["position"] = position
    view.put(BALANCES, row)


def _owner(view: ViewWriter, table: Table, event: Event) -> Row:
    row = view.get(table, id_text(event.originator_id))
    if row is None:  # the log always has the creating event first; a gap here is corruption
        raise LookupError(f"{table.name}: no owner for {event.originator_id}")
    return row


def _empty(owner: Row, currency: str) -> Row:
    return {
        "customer_id": owner["customer_id"],
        "currency": currency,
        "customer_account": owner["customer_account"],
        **{column: Decimal(0) for column in (*AMOUNTS, "unallocated", "outstanding", "net_due")},
        "position": 0,
    }
