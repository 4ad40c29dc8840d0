"""Invoice pages: the global list (+ CSV), a new draft, the invoice itself (lines, dates, issue,
credit note, void, PDF), its payments (allocate), and its history with the as-of view."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

from fastapi import APIRouter, Request, Response

from adapters.app import bounds
from adapters.app.einvoices import (
    MEDIA_TYPE,
    Download,
    PdfFormat,
    credit_note_download,
    invoice_download,
)
from adapters.csv_output import SafeCsvWriter
from adapters.describe import describe
from adapters.ledger.application import Ledger
from adapters.portal.paging import (
    aggregates_of,
    customer_picker,
    next_url,
    package_picker,
    page_params,
    queries,
    shown_invoices,
)
from adapters.portal.reads import totals_by_currency
from adapters.portal.web import (
    PREFIX,
    Editor,
    Fields,
    FormValues,
    Portal,
    PortalDep,
    PortalRoute,
    Viewer,
    actor_of,
    done,
    error_page,
    money,
    plain,
    render,
)
from adapters.queries import MAX_LIMIT, InvoiceQuery
from adapters.queries.lists import SORTS
from adapters.views import amounts_error
from domain import limits
from domain.changes import DatesChanges, LineChanges
from domain.errors import BillingError, InvalidInput, NotFound
from domain.invoice import Invoice
from domain.invoice_line import line_taxes
from domain.invoice_status import STATUSES
from domain.line_tax import default_terms
from domain.package import Package
from domain.payment import Payment
from projections.view import Row

router = APIRouter(prefix=PREFIX, route_class=PortalRoute, include_in_schema=False)

CSV_AMOUNTS = ("net", "tax", "total", "credited", "paid", "amount_due")
CSV_COLUMNS = (
    *("number", "invoice_id", "customer", "invoice_date", "due_date", "status", "currency"),
    *CSV_AMOUNTS,
)


def url_of(invoice_id: UUID | str, tail: str = "") -> str:
    return f"{PREFIX}/invoices/{invoice_id}{tail}"


# ------------------------------------------------------------------ the list


def _filters(portal_ledger: Ledger, query: dict[str, str]) -> tuple[InvoiceQuery, Fields]:
    fields = Fields(query)
    customer_id = None
    account = fields.text("customer")
    if account:
        try:
            customer_id = str(portal_ledger.customer(account).id)
        except NotFound as error:
            fields.errors["customer"] = str(error)
    status = fields.text("status")
    if status and status not in STATUSES:
        fields.errors["status"] = f"unknown status {status!r}"
        status = ""
    low = fields.day("from", "from date")
    high = fields.day("to", "to date")
    if low and high and high < low:
        fields.errors["to"] = "the 'to' date is before the 'from' date"
    due_min = fields.amount("due_min", "smallest amount due")
    due_max = fields.amount("due_max", "largest amount due")
    sort = fields.text("sort")
    wanted = InvoiceQuery(
        customer_id=customer_id,
        status=status or None,
        date_from=low,
        date_to=high,
        due_min=due_min,
        due_max=due_max,
        sort=sort if sort in SORTS else None,
        # a direction only means something with a sort (the drafted order has none)
        descending=sort in SORTS and fields.text("dir") != "asc",
    )
    return wanted, fields


@router.get("/invoices")
def invoice_list(request: Request, portal: PortalDep, session: Viewer) -> Response:
    del session
    ledger = portal.services.ledger
    query = dict(request.query_params)
    limit, cursor = page_params(query)
    wanted, fields = _filters(ledger, query)
    rows: list[Row] = []
    next_link = None
    if fields.ok:
        # every filter and sort is done by the query, a page at a time (docs/portal.md)
        today = ledger.today()
        page = queries(ledger).invoices(wanted, today, limit=limit, cursor=cursor)
        rows = shown_invoices(page.items, today)
        next_link = next_url(request.url.path, query, page)
    context = {"rows": rows, "totals": totals_by_currency(rows), "next_link": next_link}
    return _list_page(request, ledger, query, wanted, fields, context)


def _list_page(
    request: Request,
    ledger: Ledger,
    query: dict[str, str],
    wanted: InvoiceQuery,
    fields: Fields,
    context: dict[str, Any],
) -> Response:
    return render(
        request,
        "invoices.html",
        {
            **context,
            "values": {k: v for k, v in query.items() if k != "cursor"},
            "errors": fields.errors,
            "wanted": wanted,
            "statuses": STATUSES,
            "picker": customer_picker(ledger, query.get("customer")),
            "query": request.url.query,
            # names this page's bulk form: its sends are one request per invoice, so posting
            # the same form again sends nothing twice (adapters/portal/pages/bulk.py)
            "batch": uuid4().hex,
            "max_bulk": limits.MAX_BULK_INVOICES,
        },
        200 if fields.ok else 422,
    )


@router.get("/invoices.csv")
def invoice_csv(request: Request, portal: PortalDep, session: Viewer) -> Response:
    """The whole filtered, sorted list (not one page): written a page of MAX_LIMIT rows at a
    time, each read by the same query as the list."""
    del session
    ledger = portal.services.ledger
    query = dict(request.query_params)
    query.pop("cursor", None)
    wanted, fields = _filters(ledger, query)
    if not fields.ok:
        raise InvalidInput("; ".join(fields.errors.values()))
    today = ledger.today()
    return Response(
        _csv_of(ledger, wanted, today),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="invoices-{today}.csv"'},
    )


def _csv_of(ledger: Ledger, wanted: InvoiceQuery, today: date) -> str:
    out = io.StringIO()
    writer = SafeCsvWriter(out, CSV_COLUMNS, numeric=CSV_AMOUNTS)  # formulas neutralised
    writer.header()
    cursor = None
    while True:
        page = queries(ledger).invoices(wanted, today, limit=MAX_LIMIT, cursor=cursor)
        for row in shown_invoices(page.items, today):
            currency = row["currency"]
            writer.row(
                [
                    row["number"] or "",
                    row["invoice_id"],
                    row["customer_account"],
                    row["invoice_date"].isoformat(),
                    row["due_date"].isoformat(),
                    row["status"],
                    currency,
                    *(money(row[name], currency).replace(",", "") for name in CSV_AMOUNTS),
                ]
            )
        cursor = page.next_cursor
        if cursor is None:
            return out.getvalue()


# ------------------------------------------------------------------ new draft


def customer_options(customers: list[Row]) -> list[tuple[str, str]]:
    return [(str(c["account_number"]), f"{c['account_number']} – {c['name']}") for c in customers]


@router.get("/invoices/new")
def new_invoice_form(
    request: Request, portal: PortalDep, session: Editor, customer: str = ""
) -> Response:
    del session
    return _new_form(request, portal, {"customer": customer}, {})


def _new_form(
    request: Request,
    portal: Portal,
    values: dict[str, str],
    errors: dict[str, str],
    status: int = 200,
) -> Response:
    picked = customer_picker(portal.services.ledger, values.get("customer"))
    return render(
        request,
        "invoice_new.html",
        {
            "values": values,
            "errors": errors,
            "customer_options": customer_options(picked.rows),
            "picker": picked,
        },
        status,
    )


@router.post("/invoices")
def create_invoice(
    request: Request, portal: PortalDep, session: Editor, form: FormValues
) -> Response:
    fields = Fields(form)
    account = fields.text("customer", required="the customer")
    dates: dict[str, Any] = {
        "invoice_date": fields.day("invoice_date", "invoice date"),
        "due_date": fields.day("due_date", "due date"),
        "period_start": fields.day("period_start", "period start"),
        "period_end": fields.day("period_end", "period end"),
    }
    memo = fields.text("memo")
    invoice_id = fields.submit(
        lambda: portal.services.ledger.create_invoice(
            account, actor_of(session), **dates, memo=memo
        )
    )
    if invoice_id is not None:
        return done(url_of(invoice_id), "Draft invoice opened: add its lines, then issue it.")
    return _new_form(request, portal, fields.values, fields.errors, 422)


# ------------------------------------------------------------------ the invoice


@router.get("/invoices/{ref}.pdf")
def invoice_pdf(
    ref: str, portal: PortalDep, session: Viewer, format: PdfFormat = "pdf"
) -> Response:
    """The invoice's PDF, or (``format=factur-x``) its EN 16931 e-invoice."""
    del session
    return _attachment(invoice_download(portal.services.ledger, ref, format))


@router.get("/credit-notes/{ref}.pdf")
def credit_note_pdf(
    ref: str, portal: PortalDep, session: Viewer, format: PdfFormat = "pdf"
) -> Response:
    """The credit note's PDF (linked from its invoice's page), or its Factur-X e-invoice."""
    del session
    return _attachment(credit_note_download(portal.services.ledger, ref, format))


def _attachment(made: Download) -> Response:
    return Response(
        made.content, media_type=MEDIA_TYPE, headers={"Content-Disposition": made.disposition}
    )


def invoice_page(
    request: Request,
    portal: Portal,
    ref: str,
    *,
    form: str = "",
    fields: Fields | None = None,
    editing: str = "",
    status: int = 200,
) -> Response:
    """The invoice page; ``form`` names the form whose ``fields`` (values, errors) to show
    again."""
    values = fields.values if fields else None
    errors = fields.errors if fields else None
    ledger: Ledger = portal.services.ledger
    invoice = ledger.invoice(ref)
    customer = ledger.customer(invoice.customer_id)
    profile = customer.profile_on(invoice.invoice_date)
    # the lines' package dropdown and the credit notes: read models, never a fold of the log
    shown_values = values if form == "add" else {}
    picked = package_picker(ledger, invoice.currency, (shown_values or {}).get("package"))
    packages: list[Package] = aggregates_of(ledger, picked.rows, "package_id")
    notes: list[Row] = []
    if invoice.credit_notes:
        notes = queries(ledger).credit_notes(invoice_id=str(invoice.id), limit=MAX_LIMIT).items
    try:
        return render(
            request,
            "invoice.html",
            {
                "invoice": invoice,
                "status": invoice.status(ledger.today()),
                "customer": customer,
                "profile": profile,
                "lines": list(invoice.lines.values()),
                # what a discount may be of: the lines that are not discounts
                "discountable": [
                    (str(position), f"line {position}: {line.description[:60]}")
                    for position, line in enumerate(invoice.lines.values(), start=1)
                    if line.kind != "discount"
                ],
                "totals": invoice.totals,
                "line_taxes": line_taxes(
                    invoice.lines.values(), invoice.currency, invoice.tax_rounding
                ),
                "packages": [
                    {
                        "name": p.terms.name,
                        "description": p.terms.description,
                        "quantity": plain(p.terms.default_quantity),
                        "unit_price": plain(p.terms.unit_price),
                        "setup_price": plain(p.terms.setup_price),
                        "tax_rate": plain(
                            default_terms(
                                profile.tax_treatment,
                                profile.tax_rate,
                                profile.tax_description,
                                p.terms.tax_rate,
                            )[0]
                        ),
                    }
                    for p in packages
                ],
                "package_picker": picked,
                "credit_notes": notes,
                "form": form,
                "values": values or {},
                "errors": errors or {},
                "editing": editing or request.query_params.get("edit", ""),
            },
            status,
        )
    except ArithmeticError as error:  # a value stored before the limits (docs/money.md)
        return error_page(
            request,
            409,
            "This invoice cannot be shown",
            f"Invoice {invoice.label}: {amounts_error(error)}.",
        )


@router.get("/invoices/{ref}")
def show_invoice(ref: str, request: Request, portal: PortalDep, session: Viewer) -> Response:
    del session
    return invoice_page(request, portal, ref)


def _line_values(fields: Fields) -> dict[str, Any]:
    return {
        "description": fields.text("description"),
        "quantity": fields.amount("quantity", "quantity"),
        "unit_price": fields.amount("unit_price", "unit price"),
        "tax_rate": fields.amount("tax_rate", "tax rate"),
        # empty: the default description of the rate (domain/line_tax.py)
        "tax_description": fields.text("tax_description") or None,
        "period_start": fields.day("period_start", "line period start"),
        "period_end": fields.day("period_end", "line period end"),
    }


def _new_line(fields: Fields) -> tuple[str, dict[str, Any]]:
    """The add-line form: a package (its values fill what is left empty) or a line typed in."""
    package = fields.text("package")
    line = _line_values(fields)
    if package:
        return package, {**line, "description": line["description"] or None}
    fields.require(
        "description", line["description"], "a line without a package needs a description"
    )
    fields.require("unit_price", line["unit_price"], "a line without a package needs a unit price")
    quantity = line["quantity"] if line["quantity"] is not None else Decimal(1)
    return package, {**line, "quantity": quantity}


def _add_line(ledger: Ledger, invoice: Invoice, actor: str, fields: Fields) -> UUID | None:
    package, line = _new_line(fields)
    if package:
        setup = fields.values.get("setup") == "on"
        return fields.submit(
            lambda: ledger.add_package_line(invoice.id, package, actor, **line, setup=setup)
        )
    return fields.submit(lambda: ledger.add_line(invoice.id, actor, **line))


@router.post("/invoices/{ref}/lines")
def add_line(
    ref: str, request: Request, portal: PortalDep, session: Editor, form: FormValues
) -> Response:
    invoice = portal.services.ledger.invoice(ref)
    fields = Fields(form)
    if _add_line(portal.services.ledger, invoice, actor_of(session), fields):
        return done(url_of(invoice.id), "Line added.")
    return invoice_page(request, portal, ref, form="add", fields=fields, status=422)


@router.post("/invoices/{ref}/discounts")
def add_discount(
    ref: str, request: Request, portal: PortalDep, session: Editor, form: FormValues
) -> Response:
    ledger = portal.services.ledger
    invoice = ledger.invoice(ref)
    fields = Fields(form)
    percent = fields.amount("percent", "discount percentage")
    amount = fields.amount("amount", "discount amount")
    line, text = fields.text("line") or None, fields.text("description")
    fields.submit(
        lambda: ledger.add_discount(
            invoice.id,
            actor_of(session),
            percent=percent,
            amount=amount,
            line_ref=line,
            description=text,
        )
    )
    if fields.ok:
        return done(url_of(invoice.id), "Discount granted.")
    return invoice_page(request, portal, ref, form="discount", fields=fields, status=422)


@router.post("/invoices/{ref}/lines/{line_id}")
def edit_line(
    ref: str,
    line_id: UUID,
    request: Request,
    portal: PortalDep,
    session: Editor,
    form: FormValues,
) -> Response:
    ledger = portal.services.ledger
    invoice = ledger.invoice(ref)
    fields = Fields(form)
    line = _line_values(fields)
    for name in ("description", "quantity", "unit_price", "tax_rate"):
        fields.require(name, line[name], f"the {name.replace('_', ' ')} is required")
    fields.submit(
        lambda: ledger.edit_line(
            invoice.id, line_id, LineChanges.model_validate(line), actor_of(session)
        )
    )
    if fields.ok:
        return done(url_of(invoice.id), "Line saved.")
    return invoice_page(
        request, portal, ref, form="edit", fields=fields, editing=str(line_id), status=422
    )


@router.post("/invoices/{ref}/lines/{line_id}/remove")
def remove_line(
    ref: str,
    line_id: UUID,
    request: Request,
    portal: PortalDep,
    session: Editor,
    form: FormValues,
) -> Response:
    ledger = portal.services.ledger
    invoice = ledger.invoice(ref)
    fields = Fields(form, shown=())
    fields.submit(lambda: ledger.remove_line(invoice.id, line_id, actor_of(session)))
    if fields.ok:
        return done(url_of(invoice.id), "Line removed.")
    return invoice_page(request, portal, ref, form="lines", fields=fields, status=409)


@router.post("/invoices/{ref}/dates")
def change_dates(
    ref: str, request: Request, portal: PortalDep, session: Editor, form: FormValues
) -> Response:
    ledger = portal.services.ledger
    invoice = ledger.invoice(ref)
    fields = Fields(form)
    changes = {
        "invoice_date": fields.day("invoice_date", "invoice date", required=True),
        "due_date": fields.day("due_date", "due date", required=True),
        "period_start": fields.day("period_start", "period start"),
        "period_end": fields.day("period_end", "period end"),
    }
    fields.submit(
        lambda: ledger.change_invoice_dates(
            invoice.id, DatesChanges.model_validate(changes), actor_of(session)
        )
    )
    if fields.ok:
        return done(url_of(invoice.id), "Dates saved.")
    return invoice_page(request, portal, ref, form="dates", fields=fields, status=422)


@router.post("/invoices/{ref}/due-date")
def change_due_date(
    ref: str, request: Request, portal: PortalDep, session: Editor, form: FormValues
) -> Response:
    ledger = portal.services.ledger
    invoice = ledger.invoice(ref)
    fields = Fields(form)
    due = fields.day("due_date", "due date", required=True)
    reason = fields.text("reason", required="a reason")
    # submit runs the command only when every field parsed: ``due`` is a date then
    fields.submit(
        lambda: ledger.change_due_date(invoice.id, due, actor_of(session), reason) if due else None
    )
    if fields.ok:
        return done(url_of(invoice.id), f"Invoice {invoice.label} is now due on {due}.")
    return invoice_page(request, portal, ref, form="due", fields=fields, status=422)


@router.post("/invoices/{ref}/issue")
def issue(
    ref: str, request: Request, portal: PortalDep, session: Editor, form: FormValues
) -> Response:
    ledger = portal.services.ledger
    invoice = ledger.invoice(ref)
    fields = Fields(form, shown=())
    number = fields.submit(lambda: ledger.issue_invoice(invoice.id, actor_of(session)))
    if number is not None:
        return done(url_of(invoice.id), f"Invoice issued as {number}.")
    return invoice_page(request, portal, ref, form="issue", fields=fields, status=409)


@router.post("/invoices/{ref}/void")
def void(
    ref: str, request: Request, portal: PortalDep, session: Editor, form: FormValues
) -> Response:
    ledger = portal.services.ledger
    invoice = ledger.invoice(ref)
    fields = Fields(form)
    reason = fields.text("reason", required="a reason")
    fields.submit(lambda: ledger.void_invoice(invoice.id, actor_of(session), reason))
    if fields.ok:
        return done(url_of(invoice.id), f"Invoice {invoice.label} voided.")
    return invoice_page(request, portal, ref, form="void", fields=fields, status=409)


@router.post("/invoices/{ref}/credit-notes")
def credit(
    ref: str, request: Request, portal: PortalDep, session: Editor, form: FormValues
) -> Response:
    ledger = portal.services.ledger
    invoice = ledger.invoice(ref)
    fields = Fields(form)
    full = fields.values.get("mode") == "full"
    amount = None if full else fields.amount("amount", "credit amount", required=True)
    reason = fields.text("reason", required="a reason")
    number = fields.submit(
        lambda: ledger.issue_credit_note(
            invoice.id, actor_of(session), reason, amount=amount, full=full
        )
    )
    if number is not None:
        return done(url_of(invoice.id), f"Credit note {number} issued.")
    return invoice_page(request, portal, ref, form="credit", fields=fields, status=409)


# ------------------------------------------------------------------ payments of an invoice


def _payments_page(
    request: Request,
    portal: Portal,
    ref: str,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    ledger: Ledger = portal.services.ledger
    invoice = ledger.invoice(ref)
    allocations = [(ledger.payment(pid), amount) for pid, amount in invoice.allocations.items()]
    candidates, more = _payments_with_credit(ledger, invoice)
    values = dict(values or {})
    if candidates and "payment" not in values:
        values["payment"] = str(candidates[0].id)
    if candidates and "amount" not in values:
        chosen = next((p for p in candidates if str(p.id) == values["payment"]), candidates[0])
        values["amount"] = plain(default_allocation(chosen, invoice))
    return render(
        request,
        "invoice_payments.html",
        {
            "invoice": invoice,
            "status": invoice.status(ledger.today()),
            "allocations": allocations,
            "candidates": candidates,
            "more_candidates": more,
            "values": values,
            "errors": errors or {},
        },
        status,
    )


#: The most payments the allocate form offers; more with credit left are said to exist.
MAX_CANDIDATES = 200


def _payments_with_credit(ledger: Ledger, invoice: Invoice) -> tuple[list[Payment], bool]:
    """The customer's completed payments in the invoice's currency with money left to allocate,
    oldest first: the read model narrows them in SQL and pages through them, so none is dropped
    unseen; past MAX_CANDIDATES the form says more exist (``True``)."""
    candidates: list[Payment] = []
    cursor: str | None = None
    while True:
        page = queries(ledger).payments(
            customer_id=str(invoice.customer_id),
            status="completed",
            currency=invoice.currency,
            limit=MAX_LIMIT,
            cursor=cursor,
        )
        for payment in aggregates_of(ledger, page.items, "payment_id"):
            if payment.unallocated > 0:
                if len(candidates) == MAX_CANDIDATES:
                    return candidates, True
                candidates.append(payment)
        if page.next_cursor is None:
            return candidates, False
        cursor = page.next_cursor


def default_allocation(payment: Payment, invoice: Invoice) -> Decimal:
    """The amount the allocate form proposes: the smaller of unallocated and due."""
    return max(Decimal(0), min(payment.unallocated, invoice.outstanding))


@router.get("/invoices/{ref}/payments")
def invoice_payments(ref: str, request: Request, portal: PortalDep, session: Viewer) -> Response:
    del session
    return _payments_page(request, portal, ref)


@router.post("/invoices/{ref}/payments")
def allocate_to_invoice(
    ref: str, request: Request, portal: PortalDep, session: Editor, form: FormValues
) -> Response:
    ledger = portal.services.ledger
    invoice = ledger.invoice(ref)
    fields = Fields(form)
    payment_ref = fields.text("payment", required="a payment")
    wanted = fields.amount("amount", "allocation amount")
    amount = fields.submit(
        lambda: _allocate(ledger, invoice, payment_ref, wanted, actor_of(session))
    )
    if amount is not None:
        return done(
            url_of(invoice.id, "/payments"),
            f"{money(amount, invoice.currency)} {invoice.currency} allocated.",
        )
    return _payments_page(
        request, portal, ref, values=fields.values, errors=fields.errors, status=409
    )


def _allocate(
    ledger: Ledger, invoice: Invoice, payment_ref: str, amount: Decimal | None, actor: str
) -> Decimal:
    """Allocate ``amount`` (by default the smaller of unallocated and due) of a payment."""
    payment = ledger.payment(payment_ref)
    if amount is None:
        amount = default_allocation(payment, invoice)
    ledger.allocate(payment.id, [(invoice.id, amount)], actor)
    return amount


# ------------------------------------------------------------------ history and as-of


def parse_moment(text: str) -> datetime:
    """A moment from a datetime-local field (read as UTC) or an ISO timestamp with a zone."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(
            f"the moment must look like 2026-10-01T09:30 or 2026-10-01T09:30:15 (UTC): {text!r}"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@router.get("/invoices/{ref}/history")
def invoice_history(
    ref: str,
    request: Request,
    portal: PortalDep,
    session: Viewer,
    at: str = "",
    version: str = "",
) -> Response:
    del session
    ledger: Ledger = portal.services.ledger
    invoice = ledger.invoice(ref)
    events = ledger.events_of(invoice.id)
    past, moment, chosen_version, errors = _as_it_stood(ledger, invoice.id, at, version)
    return render(
        request,
        "invoice_history.html",
        {
            "invoice": invoice,
            "events": [
                {
                    "version": e.originator_version,
                    "timestamp": e.timestamp.astimezone(UTC),
                    "actor": e.actor,
                    "reason": e.reason or "",
                    "type": type(e).__name__,
                    "what": describe(e),
                }
                for e in events
            ],
            "past": past,
            "past_status": past.status(moment.date() if moment else None) if past else None,
            "moment": moment,
            "chosen_version": chosen_version,
            "values": {"at": at or _default_moment(events[-1].timestamp)},
            "errors": errors,
        },
        422 if errors else 200,
    )


def _as_it_stood(
    ledger: Ledger, invoice_id: UUID, at: str, version: str
) -> tuple[Invoice | None, datetime | None, int | None, dict[str, str]]:
    """The invoice at ``version`` (or else at the moment ``at``), the moment, the version, and
    the error of the as-of form."""
    past: Invoice | None = None
    moment: datetime | None = None
    chosen_version: int | None = None
    try:
        if version:
            if not bounds.WHOLE_NUMBER.fullmatch(version) or version.startswith("-"):
                raise InvalidInput(f"version must be a whole number, not {version[:40]!r}")
            chosen_version = int(version)
            past = ledger.as_of(Invoice, invoice_id, version=chosen_version)
        elif at:
            moment = parse_moment(at)
            past = ledger.as_of(Invoice, invoice_id, at=moment)
    except BillingError as error:
        return None, moment, chosen_version, {"at": str(error)}
    return past, moment, chosen_version, {}


def _default_moment(last: datetime) -> str:
    return last.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
