"""Read model: every payment movement in log order (table ``rm_payment_history``).

One row per payment event: received, completed, cancelled, allocated (to an invoice),
unallocated (from an invoice) and refunded. Rows are keyed by log position, so a history is
listed per customer or per invoice simply by filtering and ordering by position.
"""

from __future__ import annotations

from domain.aggregate import Event
from domain.payment import Payment
from projections.view import Projection, Row, Table, ViewWriter, id_text

HISTORY = Table(
    "rm_payment_history",
    key=("position",),
    columns={
        "position": "int",
        "payment_id": "text",
        "customer_id": "text",
        "customer_account": "text",
        "kind": "text",
        "invoice_id": "text",
        "invoice_number": "text",
        "currency": "text",
        "amount": "amount",
        "received_on": "date",
        "recorded_at": "timestamp",
        "actor": "text",
        "reason": "text",
        "method": "text",
        "reference": "text",
        "status": "text",
    },
    indexes=(("customer_id", "position"), ("invoice_id", "position"), ("payment_id",)),
)
PAYMENTS = Table(
    "rm_payment_history_payment",
    key=("payment_id",),
    columns={
        "payment_id": "text",
        "customer_id": "text",
        "customer_account": "text",
        "received_on": "date",
        "method": "text",
        "reference": "text",
        "status": "text",
    },
)

KINDS: dict[type[Event], str] = {
    Payment.Received: "received",
    Payment.Completed: "completed",
    Payment.Cancelled: "cancelled",
    Payment.Allocated: "allocated",
    Payment.Unallocated: "unallocated",
    Payment.Refunded: "refunded",
}


_MOVES = (
    Payment.Completed,
    Payment.Cancelled,
    Payment.Allocated,
    Payment.Unallocated,
    Payment.Refunded,
)


class PaymentHistory(Projection):
    """Payments, allocations, un-allocations and refunds, per customer and per invoice."""

    name = "payment_history"
    tables = (HISTORY, PAYMENTS)
    follows = tuple(KINDS)

    def apply(self, event: Event, position: int, view: ViewWriter) -> None:
        kind = KINDS.get(type(event))
        if kind is None:
            return
        payment_id = id_text(event.originator_id)
        payment: Row | None
        invoice_id: str | None = None
        invoice_number: str | None = None
        if isinstance(event, Payment.Received):
            details = event.details
            payment = {
                "payment_id": payment_id,
                "customer_id": id_text(details.customer_id),
                "customer_account": details.customer_account,
                "received_on": details.received_on,
                "method": details.method,
                "reference": details.reference,
                "status": event.status,
            }
            view.put(PAYMENTS, payment)
            amount, currency = details.amount, details.currency
            method, reference = details.method, details.reference
        else:
            payment = view.get(PAYMENTS, payment_id)
            if payment is None:
                raise LookupError(f"{HISTORY.name}: payment {payment_id} has no Received event")
            # every other payment event carries an amount and its currency
            assert isinstance(event, _MOVES)
            amount, currency = event.amount, event.currency
            method, reference = payment["method"], payment["reference"]
            if isinstance(event, Payment.Allocated | Payment.Unallocated):
                invoice_id, invoice_number = id_text(event.invoice_id), event.invoice_number
            elif isinstance(event, Payment.Refunded):
                method, reference = event.method, event.reference
            elif kind in ("completed", "cancelled"):
                payment["status"] = kind
                view.put(PAYMENTS, payment)
        view.add(
            HISTORY,
            {
                "position": position,
                "payment_id": payment_id,
                "customer_id": payment["customer_id"],
                "customer_account": payment["customer_account"],
                "kind": kind,
                "invoice_id": invoice_id,
                "invoice_number": invoice_number,
                "currency": currency,
                "amount": amount,
                "received_on": payment["received_on"],
                "recorded_at": event.timestamp,
                "actor": event.actor,
                "reason": event.reason,
                "method": method,
                "reference": reference,
                "status": payment["status"],  # the payment's status after this event
            },
        )
