"""Read model: every line of a customer's statement of account (table ``rm_statement_line``).

One row per event that changes what the customer owes on balance, or how their money is
applied, keyed by log position and dated the day the ledger recorded it (UTC) — the rule of
the aged receivables (projections/aged_receivables.py), so a statement's closing balance on a
day is the aged total of that day less the customer's credit on account:

- ``invoice`` (+total, dated ``issued_on``), ``void`` (-total), ``credit_note`` (-total);
- ``payment`` (-amount, when a payment counts: received as completed, or completed later),
  ``payment_cancelled`` (+amount, a completed payment cancelled), ``refund`` (+amount);
- ``allocation`` and ``unallocation``: money of a payment applied to an invoice or taken back.
  They move nothing on balance (``amount`` 0) and carry the sum in ``applied`` (+ applied,
  - taken back), so the credit on account is (payments - cancelled - refunds) - applied.

``amount`` is the signed effect on the balance (what the customer owes, negative: in credit).
"""

from __future__ import annotations

from decimal import Decimal

from domain.aggregate import Event
from domain.credit_note import CreditNote
from domain.invoice import Invoice
from domain.payment import Payment
from projections.view import Projection, Row, Table, ViewWriter, id_text, on

LINES = Table(
    "rm_statement_line",
    key=("position",),
    columns={
        "position": "int",
        "customer_id": "text",
        "customer_account": "text",
        "currency": "text",
        "on_date": "date",
        "kind": "text",
        "document_id": "text",
        "reference": "text",  # invoice or credit-note number; a payment's bank reference
        "invoice_number": "text",  # the invoice a credit note, allocation or void concerns
        "due_date": "date",
        "received_on": "date",  # a payment's own date
        "method": "text",
        "amount": "amount",
        "applied": "amount",
    },
    indexes=(("customer_id", "on_date", "position"),),
)
DOCUMENTS = Table(
    "rm_statement_document",
    key=("document_id",),
    columns={
        "document_id": "text",
        "customer_id": "text",
        "customer_account": "text",
        "reference": "text",
        "due_date": "date",
        "received_on": "date",
        "method": "text",
    },
)

ZERO = Decimal(0)


class StatementLines(Projection):
    """What moves a customer's balance or applies their money, dated, per currency."""

    name = "statement"
    tables = (LINES, DOCUMENTS)

    @on(Invoice.Drafted, "customer_id", "customer_account", "due_date")
    def _drafted(self, event: Invoice.Drafted, position: int, view: ViewWriter) -> None:
        view.put(
            DOCUMENTS,
            {
                "document_id": id_text(event.originator_id),
                "customer_id": id_text(event.customer_id),
                "customer_account": event.customer_account,
                "reference": None,
                "due_date": event.due_date,
                "received_on": None,
                "method": None,
            },
        )

    @on(Invoice.DatesChanged, "after")
    def _dates_changed(self, event: Invoice.DatesChanged, position: int, view: ViewWriter) -> None:
        if "due_date" in event.after:
            self._due(event, view, event.after["due_date"])

    @on(Invoice.DueDateChanged, "after")
    def _due_changed(self, event: Invoice.DueDateChanged, position: int, view: ViewWriter) -> None:
        self._due(event, view, event.after)

    @staticmethod
    def _due(event: Event, view: ViewWriter, due: object) -> None:
        document = _document(view, event)
        document["due_date"] = due
        view.put(DOCUMENTS, document)

    @on(Invoice.Issued, "number", "issued_on", "currency", "total")
    def _issued(self, event: Invoice.Issued, position: int, view: ViewWriter) -> None:
        document = _document(view, event)
        document["reference"] = event.number
        view.put(DOCUMENTS, document)
        _line(view, position, document, event.currency, "invoice", event.issued_on, event.total,
              invoice_number=event.number)  # fmt: skip

    @on(Invoice.Voided, "timestamp", "currency", "total")
    def _voided(self, event: Invoice.Voided, position: int, view: ViewWriter) -> None:
        document = _document(view, event)
        _line(view, position, document, event.currency, "void", event.timestamp.date(),
              -event.total, invoice_number=document["reference"])  # fmt: skip

    @on(
        CreditNote.Issued,
        "customer_id",
        "customer_account",
        "number",
        "invoice_number",
        "issued_on",
        "currency",
        "total",
    )
    def _credited(self, event: CreditNote.Issued, position: int, view: ViewWriter) -> None:
        document = {
            "document_id": id_text(event.originator_id),
            "customer_id": id_text(event.customer_id),
            "customer_account": event.customer_account,
            "reference": event.number,
            "due_date": None,
            "received_on": None,
            "method": None,
        }
        _line(view, position, document, event.currency, "credit_note", event.issued_on,
              -event.total, invoice_number=event.invoice_number)  # fmt: skip

    @on(Payment.Received, "timestamp", "details", "status")
    def _received(self, event: Payment.Received, position: int, view: ViewWriter) -> None:
        details = event.details
        document = {
            "document_id": id_text(event.originator_id),
            "customer_id": id_text(details.customer_id),
            "customer_account": details.customer_account,
            "reference": details.reference,
            "due_date": None,
            "received_on": details.received_on,
            "method": details.method,
        }
        view.put(DOCUMENTS, document)
        if event.status == "completed":
            _line(view, position, document, details.currency, "payment", event.timestamp.date(),
                  -details.amount)  # fmt: skip

    @on(Payment.Completed, "timestamp", "currency", "amount")
    def _completed(self, event: Payment.Completed, position: int, view: ViewWriter) -> None:
        _line(view, position, _document(view, event), event.currency, "payment",
              event.timestamp.date(), -event.amount)  # fmt: skip

    @on(Payment.Cancelled, "timestamp", "currency", "amount", "previous_status")
    def _cancelled(self, event: Payment.Cancelled, position: int, view: ViewWriter) -> None:
        if event.previous_status == "completed":
            _line(view, position, _document(view, event), event.currency, "payment_cancelled",
                  event.timestamp.date(), event.amount)  # fmt: skip

    @on(Payment.Refunded, "timestamp", "currency", "amount")
    def _refunded(self, event: Payment.Refunded, position: int, view: ViewWriter) -> None:
        _line(view, position, _document(view, event), event.currency, "refund",
              event.timestamp.date(), event.amount)  # fmt: skip

    @on(Payment.Allocated, "timestamp", "currency", "amount", "invoice_number")
    def _allocated(self, event: Payment.Allocated, position: int, view: ViewWriter) -> None:
        _line(view, position, _document(view, event), event.currency, "allocation",
              event.timestamp.date(), ZERO, applied=event.amount,
              invoice_number=event.invoice_number)  # fmt: skip

    @on(Payment.Unallocated, "timestamp", "currency", "amount", "invoice_number")
    def _unallocated(self, event: Payment.Unallocated, position: int, view: ViewWriter) -> None:
        _line(view, position, _document(view, event), event.currency, "unallocation",
              event.timestamp.date(), ZERO, applied=-event.amount,
              invoice_number=event.invoice_number)  # fmt: skip


def _document(view: ViewWriter, event: Event) -> Row:
    document = view.get(DOCUMENTS, id_text(event.originator_id))
    if document is None:  # the log always has the creating event first; a gap is corruption
        raise LookupError(f"{LINES.name}: {event.originator_id} was never drafted or received")
    return document


def _line(
    view: ViewWriter,
    position: int,
    document: Row,
    currency: str,
    kind: str,
    on_date: object,
    amount: Decimal,
    *,
    applied: Decimal = ZERO,
    invoice_number: str | None = None,
) -> None:
    view.add(
        LINES,
        {
            "position": position,
            "customer_id": document["customer_id"],
            "customer_account": document["customer_account"],
            "currency": currency,
            "on_date": on_date,
            "kind": kind,
            "document_id": document["document_id"],
            "reference": document["reference"],
            "invoice_number": invoice_number,
            "due_date": document["due_date"],
            "received_on": document["received_on"],
            "method": document["method"],
            "amount": amount,
            "applied": applied,
        },
    )
