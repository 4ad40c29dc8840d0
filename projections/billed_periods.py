"""Read model: which package and usage periods each invoice bills (table ``rm_billed_lines``).

One row per package, setup, usage or hand-typed line of an invoice that is not removed: the
customer, the package (empty for usage and typed lines), the line's kind, its words as matched
(``match_key``) and the service period it bills — the line's own
period, else the invoice's billing period (a draft's changed period moves the lines that have
none of their own) — and the invoice's state, so a void invoice bills nothing. The billing run
asks it which of a customer's package and usage periods another invoice already bills
(adapters/queries/billed.py) and skips those. Beside it, one row per invoice
(``rm_billed_lines_invoice``) with its period, number, state and its lines' ids.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from uuid import UUID

from domain.invoice import Invoice
from domain.invoice_line import InvoiceLine
from domain.same_charge import match_key
from projections.view import Projection, Row, Table, ViewWriter, id_text, on

# a billing run's lines repeat a few descriptions ("Calls to France") across every invoice
_match_key = lru_cache(maxsize=4096)(match_key)

#: the kinds of line that bill a period of something the run also bills; a line typed by hand
#: ("manual") may name a package's charge in words (domain/same_charge.py)
BILLED_KINDS = ("package", "setup", "usage", "manual")

LINES = Table(
    "rm_billed_lines",
    key=("invoice_id", "line_id"),
    columns={
        "invoice_id": "text",
        "line_id": "text",
        "customer_id": "text",
        "number": "text",
        "package_id": "text",
        "kind": "text",
        "description": "text",
        "match_key": "text",
        "period_start": "date",
        "period_end": "date",
        "own_period": "int",
        "state": "text",
    },
    indexes=(("customer_id", "period_start"),),
)
INVOICES = Table(
    "rm_billed_lines_invoice",
    key=("invoice_id",),
    columns={
        "invoice_id": "text",
        "customer_id": "text",
        "number": "text",
        "state": "text",
        "period_start": "date",
        "period_end": "date",
        "line_ids": "text",
    },
)


class BilledPeriods(Projection):
    """The package and usage periods each invoice bills, while it is not void."""

    name = "billed_periods"
    tables = (LINES, INVOICES)

    @on(Invoice.Drafted, "customer_id", "period_start", "period_end", "lines")
    def _drafted(self, event: Invoice.Drafted, position: int, view: ViewWriter) -> None:
        invoice: Row = {
            "invoice_id": id_text(event.originator_id),
            "customer_id": id_text(event.customer_id),
            "number": None,
            "state": "draft",
            "period_start": event.period_start,
            "period_end": event.period_end,
            "line_ids": "",
        }
        for line in event.lines:
            _put_line(view, invoice, line)
        view.put(INVOICES, invoice)

    @on(Invoice.LineAdded, "line")
    def _added(self, event: Invoice.LineAdded, position: int, view: ViewWriter) -> None:
        invoice = _invoice(view, event.originator_id)
        _put_line(view, invoice, event.line)
        view.put(INVOICES, invoice)

    @on(Invoice.LineEdited, "after")
    def _edited(self, event: Invoice.LineEdited, position: int, view: ViewWriter) -> None:
        invoice = _invoice(view, event.originator_id)
        _drop_line(view, invoice, event.after.line_id)
        _put_line(view, invoice, event.after)
        view.put(INVOICES, invoice)

    @on(Invoice.LineRemoved, "line")
    def _removed(self, event: Invoice.LineRemoved, position: int, view: ViewWriter) -> None:
        invoice = _invoice(view, event.originator_id)
        _drop_line(view, invoice, event.line.line_id)
        view.put(INVOICES, invoice)

    @on(Invoice.DatesChanged, "after")
    def _dates(self, event: Invoice.DatesChanged, position: int, view: ViewWriter) -> None:
        invoice = _invoice(view, event.originator_id)
        for name in ("period_start", "period_end"):
            if name in event.after:
                invoice[name] = event.after[name]
        view.put(INVOICES, invoice)
        for row in _lines(view, invoice):
            if not row["own_period"]:
                row["period_start"], row["period_end"] = _period(invoice, None, None)
                view.put(LINES, row)

    @on(Invoice.Issued, "number")
    def _issued(self, event: Invoice.Issued, position: int, view: ViewWriter) -> None:
        _set_all(view, event.originator_id, state="issued", number=event.number)

    @on(Invoice.Voided)
    def _voided(self, event: Invoice.Voided, position: int, view: ViewWriter) -> None:
        _set_all(view, event.originator_id, state="void")


def _invoice(view: ViewWriter, invoice_id: UUID) -> Row:
    row = view.get(INVOICES, id_text(invoice_id))
    if row is None:  # the log always has the Drafted event first; a gap here is corruption
        raise LookupError(f"{INVOICES.name}: no invoice {invoice_id}")
    return row


def _lines(view: ViewWriter, invoice: Row) -> list[Row]:
    ids = [i for i in str(invoice["line_ids"]).split(",") if i]
    return [row for i in ids if (row := view.get(LINES, invoice["invoice_id"], i)) is not None]


def _set_all(view: ViewWriter, invoice_id: UUID, **values: str) -> None:
    invoice = _invoice(view, invoice_id)
    invoice.update(values)
    view.put(INVOICES, invoice)
    for row in _lines(view, invoice):
        row.update(values)
        view.put(LINES, row)


def _period(invoice: Row, start: date | None, end: date | None) -> tuple[date | None, ...]:
    """A line's service period: its own, else the invoice's billing period."""
    if start is not None or end is not None:
        return (start or end, end or start)
    return (invoice["period_start"], invoice["period_end"])


def _put_line(view: ViewWriter, invoice: Row, line: InvoiceLine) -> None:
    if line.kind not in BILLED_KINDS:
        return
    start, end = _period(invoice, line.period_start, line.period_end)
    line_id = id_text(line.line_id)
    view.put(
        LINES,
        {
            "invoice_id": invoice["invoice_id"],
            "line_id": line_id,
            "customer_id": invoice["customer_id"],
            "number": invoice["number"],
            "package_id": "" if line.package_id is None else id_text(line.package_id),
            "kind": line.kind,
            "description": line.description[:200],
            "match_key": _match_key(line.description),
            "period_start": start,
            "period_end": end,
            "own_period": int(line.period_start is not None or line.period_end is not None),
            "state": invoice["state"],
        },
    )
    ids = [i for i in str(invoice["line_ids"]).split(",") if i]
    invoice["line_ids"] = ",".join([*ids, line_id])


def _drop_line(view: ViewWriter, invoice: Row, line_id: UUID) -> None:
    """A removed (or edited) line bills nothing any more: its row says ``removed``."""
    text = id_text(line_id)
    ids = [i for i in str(invoice["line_ids"]).split(",") if i]
    if text not in ids:
        return
    invoice["line_ids"] = ",".join(i for i in ids if i != text)
    row = view.get(LINES, invoice["invoice_id"], text)
    if row is not None:
        row["state"] = "removed"
        view.put(LINES, row)
