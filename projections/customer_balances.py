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
from projections.view import Projection, Row, Table, ViewWriter, id_text

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
    follows = (
        Invoice.Drafted,
        Invoice.Issued,
        Invoice.Voided,
        CreditNote.Issued,
        Payment.Received,
        Payment.Completed,
        Payment.Cancelled,
        Payment.Allocated,
        Payment.Unallocated,
        Payment.Refunded,
    )

    def apply(self, event: Event, position: int, view: ViewWriter) -> None:
        change = self._change(event, view)
        if change is None:
            return
        owner, column, amount, currency = change
        row = view.get(BALANCES, owner["customer_id"], currency) or _empty(owner, currency)
        row[column] += amount
        row["unallocated"] = row["received"] - row["allocated"] - row["refunded"]
        row["outstanding"] = row["invoiced"] - row["credited"] - row["allocated"]
        row["net_due"] = row["outstanding"] - row["unallocated"]
        row["position"] = position
        view.put(BALANCES, row)

    @staticmethod
    def _change(event: Event, view: ViewWriter) -> tuple[Row, str, Decimal, str] | None:
        """Which balance column the event moves, by how much, for whom, in which currency."""
        match event:
            case Invoice.Drafted():
                view.put(
                    INVOICE_OWNERS,
                    {
                        "invoice_id": id_text(event.originator_id),
                        "customer_id": id_text(event.customer_id),
                        "customer_account": event.customer_account,
                    },
                )
                return None
            case Invoice.Issued():
                return _owner(view, INVOICE_OWNERS, event), "invoiced", event.total, event.currency
            case Invoice.Voided():
                return _owner(view, INVOICE_OWNERS, event), "invoiced", -event.total, event.currency
            case CreditNote.Issued():
                owner = {
                    "customer_id": id_text(event.customer_id),
                    "customer_account": event.customer_account,
                }
                return owner, "credited", event.total, event.currency
            case Payment.Received():
                details = event.details
                owner = {
                    "payment_id": id_text(event.originator_id),
                    "customer_id": id_text(details.customer_id),
                    "customer_account": details.customer_account,
                }
                view.put(PAYMENT_OWNERS, owner)
                received = details.amount if event.status == "completed" else Decimal(0)
                return owner, "received", received, details.currency
            case Payment.Completed():
                return _owner(view, PAYMENT_OWNERS, event), "received", event.amount, event.currency
            case Payment.Cancelled():
                back = event.amount if event.previous_status == "completed" else Decimal(0)
                return _owner(view, PAYMENT_OWNERS, event), "received", -back, event.currency
            case Payment.Allocated():
                return (
                    _owner(view, PAYMENT_OWNERS, event),
                    "allocated",
                    event.amount,
                    event.currency,
                )
            case Payment.Unallocated():
                owner = _owner(view, PAYMENT_OWNERS, event)
                return owner, "allocated", -event.amount, event.currency
            case Payment.Refunded():
                return _owner(view, PAYMENT_OWNERS, event), "refunded", event.amount, event.currency
        return None


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
