"""Read model: every payment movement in log order (table ``rm_payment_history``).

One row per payment event: received, completed, cancelled, allocated (to an invoice),
unallocated (from an invoice) and refunded. Rows are keyed by log position, so a history is
listed per customer or per invoice simply by filtering and ordering by position. Beside it,
one row per payment (``rm_payment_history_payment``), ordered by ``seq`` (the log position of
its Received event): the payment list and id-prefix lookups read it (adapters/queries).
"""

from __future__ import annotations

from decimal import Decimal

from domain.aggregate import Event
from domain.payment import Payment
from projections.view import Projection, Row, Table, ViewWriter, id_text, on

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
        "currency": "text",
        "amount": "amount",
        "seq": "int",
    },
    indexes=(("seq",), ("customer_id", "seq"), ("received_on",)),
)

STAMP = ("timestamp", "actor", "reason")  # every history row says who, when and why
MOVED = (*STAMP, "amount", "currency")


class PaymentHistory(Projection):
    """Payments, allocations, un-allocations and refunds, per customer and per invoice."""

    name = "payment_history"
    tables = (HISTORY, PAYMENTS)

    @on(Payment.Received, *STAMP, "details", "status")
    def _received(self, event: Payment.Received, position: int, view: ViewWriter) -> None:
        details = event.details
        payment = {
            "payment_id": id_text(event.originator_id),
            "customer_id": id_text(details.customer_id),
            "customer_account": details.customer_account,
            "received_on": details.received_on,
            "method": details.method,
            "reference": details.reference,
            "status": event.status,
            "currency": details.currency,
            "amount": details.amount,
            "seq": position,
        }
        view.put(PAYMENTS, payment)
        _record(view, event, position, payment, "received", details.amount, details.currency)

    @on(Payment.Completed, *MOVED)
    def _completed(self, event: Payment.Completed, position: int, view: ViewWriter) -> None:
        self._status(event, position, view, "completed")

    @on(Payment.Cancelled, *MOVED)
    def _cancelled(self, event: Payment.Cancelled, position: int, view: ViewWriter) -> None:
        self._status(event, position, view, "cancelled")

    @staticmethod
    def _status(
        event: Payment.Completed | Payment.Cancelled, position: int, view: ViewWriter, status: str
    ) -> None:
        payment = _payment(view, event)
        payment["status"] = status
        view.put(PAYMENTS, payment)
        _record(view, event, position, payment, status, event.amount, event.currency)

    @on(Payment.Allocated, *MOVED, "invoice_id", "invoice_number")
    def _allocated(self, event: Payment.Allocated, position: int, view: ViewWriter) -> None:
        _invoice_move(view, event, position, "allocated")

    @on(Payment.Unallocated, *MOVED, "invoice_id", "invoice_number")
    def _unallocated(self, event: Payment.Unallocated, position: int, view: ViewWriter) -> None:
        _invoice_move(view, event, position, "unallocated")

    @on(Payment.Refunded, *MOVED, "method", "reference")
    def _refunded(self, event: Payment.Refunded, position: int, view: ViewWriter) -> None:
        payment = _payment(view, event)
        _record(
            view,
            event,
            position,
            payment,
            "refunded",
            event.amount,
            event.currency,
            paid_by=(event.method, event.reference),
        )


def _payment(view: ViewWriter, event: Event) -> Row:
    payment = view.get(PAYMENTS, id_text(event.originator_id))
    if payment is None:
        raise LookupError(f"{HISTORY.name}: payment {event.originator_id} has no Received event")
    return payment


def _invoice_move(
    view: ViewWriter, event: Payment.Allocated | Payment.Unallocated, position: int, kind: str
) -> None:
    invoice = (id_text(event.invoice_id), event.invoice_number)
    payment = _payment(view, event)
    _record(view, event, position, payment, kind, event.amount, event.currency, invoice=invoice)


def _record(
    view: ViewWriter,
    event: Event,
    position: int,
    payment: Row,
    kind: str,
    amount: Decimal,
    currency: str,
    *,
    invoice: tuple[str | None, str | None] = (None, None),
    paid_by: tuple[str, str] | None = None,
) -> None:
    """One history row: the movement, and the payment as it stands after it."""
    method, reference = paid_by or (payment["method"], payment["reference"])
    view.add(
        HISTORY,
        {
            "position": position,
            "payment_id": payment["payment_id"],
            "customer_id": payment["customer_id"],
            "customer_account": payment["customer_account"],
            "kind": kind,
            "invoice_id": invoice[0],
            "invoice_number": invoice[1],
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
