"""``tollbook invoice ...`` and ``tollbook credit-note ...``: drafts, lines, issue, void, audit."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import click

from adapters.cli.context import (
    MAX_ID,
    amount_arg,
    date_arg,
    emit_json,
    json_option,
    passes_state,
    say,
    state,
    table,
    timestamp_arg,
)
from adapters.cli.paging import announce_next, page_options
from adapters.cli.registry import LazyGroup
from domain.errors import InvalidInput
from domain.invoice_status import STATUSES, on_day

if TYPE_CHECKING:
    from adapters.ledger.application import Ledger
    from domain.credit_note import CreditLine

# The ledger, the domain's models and the read side are imported inside the commands that use
# them: ``invoice show`` answers from the invoice documents read model without any of them.


@click.group(cls=LazyGroup, lazy_path="invoice")  # "invoice pdf" is in adapters/cli/pdf.py
def invoice() -> None:
    """Invoices: drafts, lines, issue, void, show, list, history."""


@invoice.command("new")
@click.argument("customer")
@click.option("--date", "invoice_date", help="Invoice date (default: today).")
@click.option("--due", "due_date", help="Due date (default: invoice date + customer terms).")
@click.option("--period-start", help="Billing period start.")
@click.option("--period-end", help="Billing period end.")
@click.option("--memo", default="", help="Free text shown on the invoice.")
@json_option
@passes_state
def new(ledger: Ledger, actor: str, customer: str, as_json: bool, **values: Any) -> None:
    """Open a draft invoice for CUSTOMER."""
    from adapters.views import invoice_doc

    invoice_id = ledger.create_invoice(
        customer,
        actor,
        invoice_date=date_arg(values["invoice_date"], "invoice date"),
        due_date=date_arg(values["due_date"], "due date"),
        period_start=date_arg(values["period_start"], "period start"),
        period_end=date_arg(values["period_end"], "period end"),
        memo=values["memo"],
    )
    if as_json:
        emit_json(invoice_doc(ledger.invoice(invoice_id), ledger.today()))
    else:
        say(f"draft invoice {invoice_id} for {customer}")


@invoice.group("line")
def line() -> None:
    """Add, edit and remove lines of a draft invoice."""


@line.command("add")
@click.argument("invoice_ref")
@click.option("--package", "package_ref", help="Fill the line from this package.")
@click.option("--setup", is_flag=True, help="With --package: bill its one-off setup price.")
@click.option("--description", help="Line text (required without --package).")
@click.option("--quantity", help="Quantity (package default if omitted).")
@click.option("--unit-price", help="Unit price (package price if omitted).")
@click.option("--tax-rate", help="Tax percent (package or customer rate if omitted).")
@click.option(
    "--tax-description",
    help='How the line\'s tax is labelled, e.g. "VAT 5%" (default: that of its rate).',
)
@click.option("--from", "period_start", help="Line period start.")
@click.option("--to", "period_end", help="Line period end.")
@json_option
@passes_state
def line_add(
    ledger: Ledger,
    actor: str,
    invoice_ref: str,
    package_ref: str | None,
    setup: bool,
    description: str | None,
    quantity: str | None,
    unit_price: str | None,
    tax_rate: str | None,
    tax_description: str | None,
    period_start: str | None,
    period_end: str | None,
    as_json: bool,
) -> None:
    """Add a line to draft INVOICE_REF."""
    common: dict[str, Any] = {
        "quantity": amount_arg(quantity, "quantity"),
        "unit_price": amount_arg(unit_price, "unit price"),
        "tax_rate": amount_arg(tax_rate, "tax rate"),
        "tax_description": tax_description,
        "period_start": date_arg(period_start, "line period start"),
        "period_end": date_arg(period_end, "line period end"),
    }
    if package_ref:
        line_id = ledger.add_package_line(
            invoice_ref, package_ref, actor, description=description, setup=setup, **common
        )
    else:
        if setup:
            raise InvalidInput("--setup needs --package")
        if not description or common["unit_price"] is None:
            raise InvalidInput("a line without --package needs --description and --unit-price")
        if common["quantity"] is None:
            common["quantity"] = amount_arg("1")
        line_id = ledger.add_line(invoice_ref, actor, description=description, **common)
    _changed(ledger, invoice_ref, as_json, f"added line {line_id}")


@line.command("edit")
@click.argument("invoice_ref")
@click.argument("line_ref")
@click.option("--description")
@click.option("--quantity")
@click.option("--unit-price")
@click.option(
    "--tax-rate", help="A new rate; without --tax-description the line takes its default."
)
@click.option("--tax-description", help='How the line\'s tax is labelled, e.g. "VAT 5%".')
@click.option("--from", "period_start")
@click.option("--to", "period_end")
@json_option
@passes_state
def line_edit(
    ledger: Ledger, actor: str, invoice_ref: str, line_ref: str, as_json: bool, **values: Any
) -> None:
    """Edit line LINE_REF (position, id or id prefix) of draft INVOICE_REF."""
    from domain.changes import LineChanges

    changes: dict[str, Any] = {}
    for key in ("description", "tax_description"):
        if values[key] is not None:
            changes[key] = values[key]
    for key in ("quantity", "unit_price", "tax_rate"):
        if values[key] is not None:
            changes[key] = amount_arg(values[key], key.replace("_", " "))
    for key in ("period_start", "period_end"):
        if values[key] is not None:
            changes[key] = date_arg(values[key], key.replace("_", " "))
    if not changes:
        raise InvalidInput("nothing to change: give at least one option")
    ledger.edit_line(invoice_ref, line_ref, LineChanges.model_validate(changes), actor)
    _changed(ledger, invoice_ref, as_json, f"edited line {line_ref}")


@line.command("remove")
@click.argument("invoice_ref")
@click.argument("line_ref")
@json_option
@passes_state
def line_remove(ledger: Ledger, actor: str, invoice_ref: str, line_ref: str, as_json: bool) -> None:
    """Remove line LINE_REF from draft INVOICE_REF."""
    ledger.remove_line(invoice_ref, line_ref, actor)
    _changed(ledger, invoice_ref, as_json, f"removed line {line_ref}")


@invoice.group("discount")
def discount() -> None:
    """Grant discounts on a draft invoice (remove one with ``invoice line remove``)."""


@discount.command("add")
@click.argument("invoice_ref")
@click.option("--percent", help="A percentage of the line or of the invoice's net (0-100].")
@click.option("--amount", help="An amount off, in the invoice's currency.")
@click.option("--line", "line_ref", help="Discount this line (position, id or id prefix).")
@click.option("--description", default="", help="Line text (default: says what it is).")
@json_option
@passes_state
def discount_add(
    ledger: Ledger, actor: str, invoice_ref: str, line_ref: str | None, as_json: bool, **values: Any
) -> None:
    """Grant a discount on draft INVOICE_REF: of one --line, or of the whole invoice."""
    discount_id = ledger.add_discount(
        invoice_ref,
        actor,
        percent=amount_arg(values["percent"], "discount percentage"),
        amount=amount_arg(values["amount"], "discount amount"),
        line_ref=line_ref,
        description=values["description"],
    )
    _changed(ledger, invoice_ref, as_json, f"added discount {discount_id}")


def _changed(ledger: Ledger, invoice_ref: str, as_json: bool, message: str) -> None:
    """The invoice as it now stands (--json), or a line saying what changed."""
    from adapters.views import invoice_doc

    if as_json:
        emit_json(invoice_doc(ledger.invoice(invoice_ref), ledger.today()))
    else:
        say(message)


@invoice.command("dates")
@click.argument("invoice_ref")
@click.option("--date", "invoice_date")
@click.option("--due", "due_date")
@click.option("--period-start")
@click.option("--period-end")
@json_option
@passes_state
def dates(ledger: Ledger, actor: str, invoice_ref: str, as_json: bool, **values: Any) -> None:
    """Change a draft's invoice date, due date or billing period."""
    from domain.changes import DatesChanges

    changes = {
        key: date_arg(value, key.replace("_", " "))
        for key, value in values.items()
        if value is not None
    }
    if not changes:
        raise InvalidInput("nothing to change: give at least one option")
    ledger.change_invoice_dates(invoice_ref, DatesChanges.model_validate(changes), actor)
    _changed(ledger, invoice_ref, as_json, f"changed dates of {invoice_ref}")


@invoice.command("due-date")
@click.argument("invoice_ref")
@click.argument("due_date")
@click.option("--reason", required=True, help="Why the due date moves (kept in the history).")
@json_option
@passes_state
def due_date(
    ledger: Ledger, actor: str, invoice_ref: str, due_date: str, reason: str, as_json: bool
) -> None:
    """Give issued invoice INVOICE_REF the new due date DUE_DATE (YYYY-MM-DD)."""
    day = date_arg(due_date, "due date")
    assert day is not None  # a given argument is parsed or refused
    ledger.change_due_date(invoice_ref, day, actor, reason)
    _changed(ledger, invoice_ref, as_json, f"{invoice_ref} is now due on {day}")


@invoice.command("issue")
@click.argument("invoice_ref")
@json_option
@passes_state
def issue(ledger: Ledger, actor: str, invoice_ref: str, as_json: bool) -> None:
    """Issue a draft: give it the next number and freeze it."""
    from adapters.views import invoice_doc

    number = ledger.issue_invoice(invoice_ref, actor)
    issued = ledger.invoice(number)
    if as_json:
        emit_json(invoice_doc(issued, ledger.today()))
    elif issued.allocated:
        # only auto_apply_credit allocates in the issuing save: say so, finance reconciles on it
        say(
            f"issued {number}: {issued.allocated} {issued.currency} of customer credit applied,"
            f" {issued.outstanding} {issued.currency} outstanding"
        )
    else:
        say(f"issued {number}")


@invoice.command("void")
@click.argument("invoice_ref")
@click.option("--reason", required=True, help="Why the invoice is void.")
@json_option
@passes_state
def void(ledger: Ledger, actor: str, invoice_ref: str, reason: str, as_json: bool) -> None:
    """Void an issued invoice that has nothing allocated or credited."""
    ledger.void_invoice(invoice_ref, actor, reason)
    _changed(ledger, invoice_ref, as_json, f"voided {invoice_ref}")


@invoice.command("show")
@click.argument("invoice_ref")
@click.option("--as-of", help="The invoice as it stood at this moment (ISO 8601 with zone).")
@click.option(
    "--version", type=click.IntRange(0, MAX_ID), help="The invoice as it stood at this version."
)
@json_option
def show(invoice_ref: str, as_of: str | None, version: int | None, as_json: bool) -> None:
    """Show an invoice by number or id, now or as it stood at a past moment."""
    doc = None
    if as_of is None and version is None:
        doc = _stored_document(invoice_ref)
    if doc is None:
        doc = _folded_document(state().ledger, invoice_ref, as_of, version)
    if as_json:
        emit_json(doc)
        return
    print_invoice(doc)


def _stored_document(invoice_ref: str) -> dict[str, Any] | None:
    """The invoice's document as the invoice documents read model holds it, with the day's
    status; None when that cannot be relied on (adapters/store/stored_invoices.py)."""
    from datetime import UTC, datetime

    from adapters.store.stored_invoices import stored_invoice_document

    current = state()
    if current.tenant is not None:  # a tenant's store is the directory's to name: the ledger's
        return None
    doc = stored_invoice_document(current.given_url, invoice_ref)
    if doc is None:
        return None
    # the ledger's today(): its clock's date (the real one unless a test or the demo sets it)
    today = (current.clock or (lambda: datetime.now(UTC)))().date()
    due = date.fromisoformat(doc["due_date"])
    return {**doc, "status": on_day(doc["status"], due, today)}


def _folded_document(
    ledger: Ledger, invoice_ref: str, as_of: str | None, version: int | None
) -> dict[str, Any]:
    """The invoice's document from its events, folded by the ledger (now, or as it stood)."""
    from adapters.views import invoice_doc
    from domain.invoice import Invoice

    invoice_id = ledger.invoice_id(invoice_ref)
    if as_of is not None or version is not None:
        current = ledger.as_of(Invoice, invoice_id, version=version, at=timestamp_arg(as_of))
    else:
        current = ledger.invoice(invoice_id)
    doc = invoice_doc(current, ledger.today())
    if doc.get("error"):
        click.echo(f"warning: invoice {current.label}: {doc['error']}", err=True)
    return doc


def print_invoice(doc: dict[str, Any]) -> None:
    title = doc["number"] or f"draft {doc['id']}"
    billing = doc["billing"] or {}
    say(
        f"[bold]Invoice {title}[/bold]  v{doc['version']}  {doc['status'].upper()}"
        f"  customer {doc['customer_account']} {billing.get('customer_name', '')}"
    )
    say(
        f"date {doc['invoice_date']}  due {doc['due_date']}  currency {doc['currency']}"
        + (f"  period {doc['period_start']} – {doc['period_end']}" if doc["period_start"] else "")
    )
    from domain.decimal_text import price_column  # the text only: ``--json`` does without it

    prices = price_column([Decimal(ln["unit_price"]) for ln in doc["lines"]], doc["currency"])
    table(
        None,
        ["#", "description", "period", "qty", "unit price", "tax %", "net", "tax"],
        [
            [
                ln["position"],
                ln["description"],
                f"{ln['period_start']} – {ln['period_end']}" if ln["period_start"] else "",
                ln["quantity"],
                price,
                ln["tax_rate"],
                ln["net"],
                ln["tax"],
            ]
            for ln, price in zip(doc["lines"], prices, strict=True)
        ],
    )
    table(
        None,
        ["", doc["currency"]],
        [
            ["net", doc["net"]],
            ["tax", doc["tax"]],
            ["total", doc["total"]],
            ["credited", doc["credited"]],
            ["paid", doc["paid"]],
            ["amount due", doc["amount_due"]],
        ],
    )


@invoice.command("list")
@click.option("--customer", help="Only this customer's invoices.")
@click.option("--status", help="Only invoices with this status (draft, issued, paid, ...).")
@click.option("--from", "date_from", help="Only invoices dated on or after this day.")
@click.option("--to", "date_to", help="Only invoices dated on or before this day.")
@click.option("--number", help="Only the invoice with this number.")
@page_options
@json_option
@passes_state
def list_(
    ledger: Ledger,
    actor: str,
    customer: str | None,
    status: str | None,
    date_from: str | None,
    date_to: str | None,
    number: str | None,
    limit: int,
    cursor: str | None,
    as_json: bool,
) -> None:
    """The invoice register: invoices with their totals and what is still owed, in the order
    they were drafted (a page at a time)."""
    del actor
    if status and status not in STATUSES:
        raise InvalidInput(f"unknown status {status!r}: one of {', '.join(STATUSES)}")
    low, high = date_arg(date_from, "--from date"), date_arg(date_to, "--to date")
    if low and high and high < low:
        raise InvalidInput("--to is before --from")
    # the read side: only when a list is read
    from adapters.queries import InvoiceQuery, queries_for
    from adapters.queries.documents import register_doc

    wanted = InvoiceQuery(
        customer_id=str(ledger.customer(customer).id) if customer else None,
        status=status,
        date_from=low,
        date_to=high,
        number=number,
    )
    today = ledger.today()
    page = queries_for(ledger).invoices(wanted, today, limit=limit, cursor=cursor)
    docs = [register_doc(row, today) for row in page.items]
    announce_next(page)
    if as_json:
        emit_json(docs)
        return
    table(
        "Invoices",
        [
            *("number", "customer", "date", "due", "status", "currency"),
            *("total", "credited", "paid", "due amount"),
        ],
        [
            [
                d["number"] or d["id"][:8] + " (draft)",
                d["customer_account"],
                d["invoice_date"],
                d["due_date"],
                d["status"],
                d["currency"],
                d["total"],
                d["credited"],
                d["paid"],
                d["amount_due"],
            ]
            for d in docs
        ],
    )


@invoice.command("history")
@click.argument("invoice_ref")
@json_option
@passes_state
def history(ledger: Ledger, actor: str, invoice_ref: str, as_json: bool) -> None:
    """Every event of an invoice: when, who, why, and what changed."""
    from adapters.describe import describe
    from adapters.views import event_doc

    del actor
    events = ledger.events_of(ledger.invoice_id(invoice_ref))
    if as_json:
        emit_json([event_doc(e) for e in events])
        return
    table(
        f"History of {invoice_ref}",
        ["v", "time (UTC)", "actor", "event", "reason", "what"],
        [
            [
                e.originator_version,
                f"{e.timestamp:%Y-%m-%dT%H:%M:%S}",
                e.actor,
                type(e).__name__,
                e.reason or "",
                describe(e),
            ]
            for e in events
        ],
    )


@click.group("credit-note", cls=LazyGroup, lazy_path="credit-note")  # and "credit-note pdf"
def credit_note() -> None:
    """Credit notes: corrections to issued invoices."""


@credit_note.command("new")
@click.argument("invoice_ref")
@click.option("--reason", required=True, help="Why the credit is given.")
@click.option("--amount", help="Net amount to credit, at the invoice's tax rate.")
@click.option("--full", is_flag=True, help="Credit every line of the invoice.")
@click.option(
    "--line",
    "lines",
    multiple=True,
    help='Explicit line "DESCRIPTION;QUANTITY;UNIT_PRICE;TAX_RATE" (repeatable).',
)
@json_option
@passes_state
def credit_new(
    ledger: Ledger,
    actor: str,
    invoice_ref: str,
    reason: str,
    amount: str | None,
    full: bool,
    lines: tuple[str, ...],
    as_json: bool,
) -> None:
    """Issue a credit note against issued invoice INVOICE_REF."""
    from adapters.views import credit_note_doc

    parsed = [_credit_line(text) for text in lines] or None
    number = ledger.issue_credit_note(
        invoice_ref, actor, reason, amount=amount_arg(amount), lines=parsed, full=full
    )
    if as_json:
        emit_json(credit_note_doc(ledger.credit_note(number)))
    else:
        say(f"issued credit note {number} against {invoice_ref}")


def _credit_line(text: str) -> CreditLine:
    from domain.credit_note import CreditLine

    parts = text.split(";")
    if len(parts) != 4:
        raise InvalidInput(
            f'credit line must be "DESCRIPTION;QUANTITY;UNIT_PRICE;TAX_RATE": {text!r}'
        )
    return CreditLine(
        description=parts[0],
        quantity=amount_arg(parts[1], "quantity"),
        unit_price=amount_arg(parts[2], "unit price"),
        tax_rate=amount_arg(parts[3], "tax rate"),
    )


@credit_note.command("show")
@click.argument("ref")
@json_option
@passes_state
def credit_show(ledger: Ledger, actor: str, ref: str, as_json: bool) -> None:
    """Show a credit note by number or id."""
    from adapters.views import credit_note_doc

    del actor
    doc = credit_note_doc(ledger.credit_note(ref))
    if as_json:
        emit_json(doc)
        return
    say(
        f"[bold]Credit note {doc['number']}[/bold] against {doc['invoice_number']}"
        f"  {doc['issued_on']}  {doc['currency']}"
    )
    table(
        None,
        ["description", "qty", "unit price", "tax %"],
        [
            [ln["description"], ln["quantity"], ln["unit_price"], ln["tax_rate"]]
            for ln in doc["lines"]
        ],
    )
    say(f"net {doc['net']}  tax {doc['tax']}  total {doc['total']}")


@credit_note.command("list")
@click.option("--invoice", "invoice_ref", help="Only credit notes of this invoice.")
@page_options
@json_option
@passes_state
def credit_list(
    ledger: Ledger,
    actor: str,
    invoice_ref: str | None,
    limit: int,
    cursor: str | None,
    as_json: bool,
) -> None:
    """List credit notes, in the order they were issued (a page at a time)."""
    from adapters.queries import queries_for
    from adapters.views import credit_note_doc

    del actor
    invoice_id = str(ledger.invoice_id(invoice_ref)) if invoice_ref else None
    queries = queries_for(ledger)
    page = queries.credit_notes(invoice_id=invoice_id, limit=limit, cursor=cursor)
    found = queries.aggregates([r["credit_note_id"] for r in page.items])
    docs = [credit_note_doc(n) for n in found]
    announce_next(page)
    if as_json:
        emit_json(docs)
        return
    table(
        "Credit notes",
        ["number", "invoice", "customer", "date", "currency", "total"],
        [
            [
                d["number"],
                d["invoice_number"],
                d["customer_account"],
                d["issued_on"],
                d["currency"],
                d["total"],
            ]
            for d in docs
        ],
    )


__all__ = ["credit_note", "invoice"]
