"""Read model: the invoice register, the "Global Invoices" list (table ``rm_invoice_register``).

One row per invoice: number, customer, dates, state, net, tax, total, credited, paid,
outstanding, and the invoice version the row reflects (reconcile compares the row with the
aggregate at exactly that version). Draft totals move line by line (a draft opened with its
lines, as a billing run's is, starts from their sum): a document's totals are the sums of its
lines' rounded net and tax, so adding and subtracting lines is exact.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from domain.aggregate import Event
from domain.invoice import Invoice, Status
from domain.invoice_line import InvoiceLine
from projections.view import Projection, Row, Table, ViewWriter, id_text, on

MONEY = ("net", "tax", "total", "credited", "paid", "outstanding")

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
    },
    indexes=(("customer_id", "invoice_date"), ("invoice_date",), ("number",)),
)


class InvoiceRegister(Projection):
    """Every invoice with its totals and what is still owed on it."""

    name = "invoice_register"
    tables = (REGISTER,)

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
            **{column: Decimal(0) for column in MONEY},
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


def _row(view: ViewWriter, event: Event) -> Row:
    found = view.get(REGISTER, id_text(event.originator_id))
    if found is None:  # the log always drafts an invoice first: a gap means corruption
        raise LookupError(f"{REGISTER.name}: invoice {event.originator_id} never drafted")
    return found


def _put(view: ViewWriter, row: Row, event: Event, position: int) -> None:
    row["outstanding"] = (
        row["total"] - row["credited"] - row["paid"] if row["state"] == "issued" else Decimal(0)
    )
    row["version"] = event.originator_version
    row["position"] = position
    view.put(REGISTER, row)


def _add_line(row: Row, line: InvoiceLine, sign: int) -> None:
    currency = row["currency"]
    net, tax = line.net(currency), line.tax(currency)
    row["net"] += sign * net
    row["tax"] += sign * tax
    row["total"] += sign * (net + tax)


def status_of(row: Row, today: date | None) -> Status:
    """The invoice's status from its register row: the same rules as ``Invoice.status``."""
    state = row["state"]
    if state != "issued":
        return "draft" if state == "draft" else "void"
    if row["outstanding"] == 0:
        return "paid" if row["paid"] else "credited"
    if today is not None and today > row["due_date"]:
        return "overdue"
    return "partly_paid" if row["paid"] or row["credited"] else "issued"
