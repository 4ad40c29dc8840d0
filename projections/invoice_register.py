"""Read model: the invoice register, the "Global Invoices" list (table ``rm_invoice_register``),
and the credit notes beside it (``rm_invoice_register_credit_note``).

One row per invoice: number, customer, dates, state, net, tax, total, credited, paid,
outstanding, and the invoice version the row reflects (reconcile compares the row with the
aggregate at exactly that version). ``seq`` (the log position of the draft, never changed)
orders lists and pages; ``phase`` and ``due_date`` answer a status filter in SQL (a status
also depends on the day asked); ``period_day`` (period start, else invoice date) places an
invoice in a billing month. Every list, number lookup and id-prefix lookup of invoices and
credit notes reads these tables (adapters/queries). Draft totals move line by line (a draft
opened with its lines, as a billing run's is, starts from their sum): a document's totals are
the sums of its lines' rounded net and tax, so adding and subtracting lines is exact.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from uuid import UUID

from domain import invoice_status
from domain.aggregate import Event
from domain.credit_note import CreditNote
from domain.invoice import Invoice
from domain.invoice_line import InvoiceLine
from domain.invoice_status import Status
from domain.money import line_net, line_tax
from projections.view import Projection, Row, Table, ViewWriter, id_text, on

MONEY = ("net", "tax", "total", "credited", "paid", "outstanding")
ZEROS = dict.fromkeys(MONEY, Decimal(0))  # Decimals are immutable: one zero shared is fine


def _derive(row: Row) -> None:
    """What is still owed, and the phase a status filter reads (see ``_phase``)."""
    row["outstanding"] = invoice_status.outstanding(
        row["state"], row["total"], row["credited"], row["paid"]
    )
    row["phase"] = _phase(row)


REGISTER = Table(
    "rm_invoice_register",
    key=("invoice_id",),
    columns={
        "invoice_id": "text",
        "number": "text",
        "customer_id": "text",
        "customer_account": "text",
        "currency": "text",
        "state": "text",
        "invoice_date": "date",
        "due_date": "date",
        "period_start": "date",
        "period_end": "date",
        "issued_on": "date",
        **dict.fromkeys(MONEY, "amount"),
        "version": "int",
        "position": "int",
        "seq": "int",
        "phase": "text",
        "period_day": "date",
    },
    indexes=(
        ("seq",),
        ("customer_id", "seq"),
        ("phase", "seq"),
        ("number",),
        ("invoice_date",),
        ("period_day",),
    ),
    derive=_derive,
)
CREDIT_NOTES = Table(
    "rm_invoice_register_credit_note",
    key=("credit_note_id",),
    columns={
        "credit_note_id": "text",
        "number": "text",
        "invoice_id": "text",
        "invoice_number": "text",
        "invoice_date": "date",
        "customer_id": "text",
        "customer_account": "text",
        "currency": "text",
        "issued_on": "date",
        "net": "amount",
        "tax": "amount",
        "total": "amount",
        "seq": "int",
    },
    indexes=(("seq",), ("invoice_id", "seq"), ("customer_id", "seq"), ("number",), ("issued_on",)),
)

#: ``phase`` of an issued invoice with something still owed: ``open`` if nothing was paid or
#: credited yet, ``open_touched`` once a payment was allocated (``partly_paid`` until it falls
#: due), ``open_credited`` when only credit notes reduced it (``partly_credited``)
OPEN_PHASES = ("open", "open_touched", "open_credited")
#: the open statuses (before the due date) and the phase each is stored as
OPEN_STATUS_PHASES = {
    "issued": "open",
    "partly_paid": "open_touched",
    "partly_credited": "open_credited",
}


class InvoiceRegister(Projection):
    """Every invoice with its totals and what is still owed on it."""

    name = "invoice_register"
    tables = (REGISTER, CREDIT_NOTES)

    @on(
        Invoice.Drafted,
        "customer_id",
        "customer_account",
        "currency",
        "invoice_date",
        "due_date",
        "period_start",
        "period_end",
        "lines",
    )
    def _drafted(self, event: Invoice.Drafted, position: int, view: ViewWriter) -> None:
        row: Row = {
            "invoice_id": id_text(event.originator_id),
            "number": None,
            "customer_id": id_text(event.customer_id),
            "customer_account": event.customer_account,
            "currency": event.currency,
            "state": "draft",
            "invoice_date": event.invoice_date,
            "due_date": event.due_date,
            "period_start": event.period_start,
            "period_end": event.period_end,
            "issued_on": None,
            **ZEROS,
            "seq": position,
            "period_day": event.period_start or event.invoice_date,
        }
        for line in event.lines:  # a billing run's draft comes with its lines
            _add_line(row, line, 1)
        _put(view, row, event, position)

    @on(Invoice.LineAdded, "line")
    def _line_added(self, event: Invoice.LineAdded, position: int, view: ViewWriter) -> None:
        row = _row(view, event)
        _add_line(row, event.line, 1)
        _put(view, row, event, position)

    @on(Invoice.LineEdited, "before", "after")
    def _line_edited(self, event: Invoice.LineEdited, position: int, view: ViewWriter) -> None:
        row = _row(view, event)
        _add_line(row, event.before, -1)
        _add_line(row, event.after, 1)
        _put(view, row, event, position)

    @on(Invoice.LineRemoved, "line")
    def _line_removed(self, event: Invoice.LineRemoved, position: int, view: ViewWriter) -> None:
        row = _row(view, event)
        _add_line(row, event.line, -1)
        _put(view, row, event, position)

    @on(Invoice.DatesChanged, "after")
    def _dates_changed(self, event: Invoice.DatesChanged, position: int, view: ViewWriter) -> None:
        row = _row(view, event)
        row.update(event.after)
        row["period_day"] = row["period_start"] or row["invoice_date"]
        _put(view, row, event, position)

    @on(Invoice.DueDateChanged, "after")
    def _due_date_changed(
        self, event: Invoice.DueDateChanged, position: int, view: ViewWriter
    ) -> None:
        row = _row(view, event)
        row["due_date"] = event.after
        _put(view, row, event, position)

    @on(Invoice.Issued, "number", "issued_on", "net", "tax", "total")
    def _issued(self, event: Invoice.Issued, position: int, view: ViewWriter) -> None:
        row = _row(view, event)
        row.update(
            state="issued",
            number=event.number,
            issued_on=event.issued_on,
            net=event.net,
            tax=event.tax,
            total=event.total,
        )
        _put(view, row, event, position)

    @on(Invoice.Credited, "amount")
    def _credited(self, event: Invoice.Credited, position: int, view: ViewWriter) -> None:
        row = _row(view, event)
        row["credited"] += event.amount
        _put(view, row, event, position)

    @on(Invoice.PaymentApplied, "amount")
    def _paid(self, event: Invoice.PaymentApplied, position: int, view: ViewWriter) -> None:
        row = _row(view, event)
        row["paid"] += event.amount
        _put(view, row, event, position)

    @on(Invoice.PaymentUnapplied, "amount")
    def _unpaid(self, event: Invoice.PaymentUnapplied, position: int, view: ViewWriter) -> None:
        row = _row(view, event)
        row["paid"] -= event.amount
        _put(view, row, event, position)

    @on(Invoice.Voided)
    def _voided(self, event: Invoice.Voided, position: int, view: ViewWriter) -> None:
        row = _row(view, event)
        row["state"] = "void"
        _put(view, row, event, position)

    @on(
        CreditNote.Issued,
        "invoice_id",
        "invoice_number",
        "invoice_date",
        "customer_id",
        "customer_account",
        "currency",
        "number",
        "issued_on",
        "net",
        "tax",
        "total",
    )
    def _credit_note(self, event: CreditNote.Issued, position: int, view: ViewWriter) -> None:
        view.put(
            CREDIT_NOTES,
            {
                "credit_note_id": id_text(event.originator_id),
                "number": event.number,
                "invoice_id": id_text(event.invoice_id),
                "invoice_number": event.invoice_number,
                # notes issued before the event carried the date: the invoice's, from its row
                "invoice_date": event.invoice_date
                or _row(view, event, event.invoice_id)["invoice_date"],
                "customer_id": id_text(event.customer_id),
                "customer_account": event.customer_account,
                "currency": event.currency,
                "issued_on": event.issued_on,
                "net": event.net,
                "tax": event.tax,
                "total": event.total,
                "seq": position,
            },
        )


def _row(view: ViewWriter, event: Event, invoice_id: UUID | None = None) -> Row:
    wanted = invoice_id or event.originator_id
    found = view.get(REGISTER, id_text(wanted))
    if found is None:  # the log always drafts an invoice first: a gap means corruption
        raise LookupError(f"{REGISTER.name}: invoice {wanted} never drafted")
    return found


def _put(view: ViewWriter, row: Row, event: Event, position: int) -> None:
    row["version"] = event.originator_version
    row["position"] = position
    view.put(REGISTER, row)


def _phase(row: Row) -> str:
    """The part of the status that does not depend on the day (see ``status_of``): stored, so
    a list can filter on it, with the open states named apart from any day's overdue."""
    status = status_of(row, None)
    return OPEN_STATUS_PHASES.get(status, status)


def _add_line(row: Row, line: InvoiceLine, sign: int) -> None:
    # InvoiceLine.net and .tax, with the net worked out once (.tax works it out again)
    currency = row["currency"]
    net = line_net(line.quantity, line.unit_price, currency)
    tax = line_tax(net, line.tax_rate, currency)
    row["net"] += sign * net
    row["tax"] += sign * tax
    row["total"] += sign * (net + tax)


def status_of(row: Row, today: date | None) -> Status:
    """The invoice's status from its register row (domain/invoice_status.py's rules)."""
    return invoice_status.status(
        row["state"], row["outstanding"], row["paid"], row["credited"], row["due_date"], today
    )
