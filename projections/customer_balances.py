"""Read model: what each customer owes and holds, per currency (table ``rm_balances``).

Applies the same rules as the pure fold in projections/balances.py, written independently so
``tollbook reconcile`` compares two derivations, not one derivation with itself. Only completed
payments count; a cancelled payment that had completed is taken back out.
"""

from __future__ import annotations

from decimal import Decimal

from domain.aggregate import Event
from domain.credit_note import CreditNote
from domain.invoice import Invoice
from domain.payment import Payment
from projections.view import Projection, Row, Table, ViewWriter, id_text, on

AMOUNTS = ("invoiced", "credited", "received", "allocated", "refunded")

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

    @on(Invoice.Issued, "total", "currency")
    def _issued(self, event: Invoice.Issued, position: int, view: ViewWriter) -> None:
        owner = _owner(view, INVOICE_OWNERS, event)
        _move(view, owner, "invoiced", event.total, event.currency, position)

    @on(Invoice.Voided, "total", "currency")
    def _voided(self, event: Invoice.Voided, position: int, view: ViewWriter) -> None:
        owner = _owner(view, INVOICE_OWNERS, event)
        _move(view, owner, "invoiced", -event.total, event.currency, position)

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

    @on(Payment.Completed, "amount", "currency")
    def _completed(self, event: Payment.Completed, position: int, view: ViewWriter) -> None:
        owner = _owner(view, PAYMENT_OWNERS, event)
        _move(view, owner, "received", event.amount, event.currency, position)

    @on(Payment.Cancelled, "amount", "currency", "previous_status")
    def _cancelled(self, event: Payment.Cancelled, position: int, view: ViewWriter) -> None:
        back = event.amount if event.previous_status == "completed" else Decimal(0)
        _move(
            view, _owner(view, PAYMENT_OWNERS, event), "received", -back, event.currency, position
        )

    @on(Payment.Allocated, "amount", "currency")
    def _allocated(self, event: Payment.Allocated, position: int, view: ViewWriter) -> None:
        owner = _owner(view, PAYMENT_OWNERS, event)
        _move(view, owner, "allocated", event.amount, event.currency, position)

    @on(Payment.Unallocated, "amount", "currency")
    def _unallocated(self, event: Payment.Unallocated, position: int, view: ViewWriter) -> None:
        owner = _owner(view, PAYMENT_OWNERS, event)
        _move(view, owner, "allocated", -event.amount, event.currency, position)

    @on(Payment.Refunded, "amount", "currency")
    def _refunded(self, event: Payment.Refunded, position: int, view: ViewWriter) -> None:
        owner = _owner(view, PAYMENT_OWNERS, event)
        _move(view, owner, "refunded", event.amount, event.currency, position)


def _move(
    view: ViewWriter, owner: Row, column: str, amount: Decimal, currency: str, position: int
) -> None:
    """Move one balance column of the owner's row in ``currency`` and what follows from it."""
    row = view.get(BALANCES, owner["customer_id"], currency) or _empty(owner, currency)
    row[column] += amount
    row["unallocated"] = row["received"] - row["allocated"] - row["refunded"]
    row["outstanding"] = row["invoiced"] - row["credited"] - row["allocated"]
    row["net_due"] = row["outstanding"] - row["unallocated"]
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
