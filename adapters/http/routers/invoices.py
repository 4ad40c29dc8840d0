"""``/invoices``: drafts, lines, dates, issue, void, as-of views, history and the PDF."""

from __future__ import annotations

import os
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import Query, Request, Response

from adapters.app.einvoices import MEDIA_TYPE, PdfFormat, invoice_download
from adapters.config_error import ConfigError
from adapters.http.conditional import (
    cached_document,
    cached_page,
    conditional_answers,
    document,
    list_tag,
    presented_tags,
)
from adapters.http.deps import Reader, Svc, Writer, check_if_match, set_etag
from adapters.http.documents import (
    DiscountAdded,
    EventDoc,
    InvoiceDoc,
    InvoiceSummary,
    LineAdded,
    SendDoc,
    answers,
)
from adapters.http.paging import Cursor, Limit, paged
from adapters.http.problems import Problem
from adapters.http.routing import Router
from adapters.http.schemas import (
    DatesChange,
    DiscountCreate,
    DueDateChange,
    InvoiceCreate,
    IsoDate,
    IsoDateTime,
    LineChange,
    LineCreate,
    Reason,
    SendRequest,
)
from adapters.ledger.application import Ledger
from adapters.queries import InvoiceQuery, queries_for
from adapters.queries.documents import register_doc
from adapters.queries.lists import Sort
from adapters.views import event_doc, invoice_doc
from domain.changes import DatesChanges, LineChanges
from domain.errors import InvalidInput
from domain.invoice import Invoice
from domain.invoice_status import Status

router = Router(prefix="/invoices", tags=["invoices"])


def _doc(ledger: Ledger, ref: str, response: Response) -> dict[str, Any]:
    invoice = ledger.invoice(ref)
    set_etag(response, invoice.version)
    return invoice_doc(invoice, ledger.today())


def _precondition(request: Request, ledger: Ledger, ref: str) -> tuple[str, int | None]:
    """Check If-Match against the invoice and pin the reference to its id; with the version
    the command must find (``expected_version``)."""
    invoice = ledger.invoice(ref)
    return str(invoice.id), check_if_match(request, invoice)


@router.get("", **conditional_answers(list[InvoiceSummary]))
def list_invoices(
    request: Request,
    svc: Svc,
    _: Reader,
    customer: str | None = None,
    status: Status | None = None,
    number: Annotated[str | None, Query(max_length=200)] = None,
    date_from: Annotated[IsoDate | None, Query(alias="from")] = None,
    date_to: Annotated[IsoDate | None, Query(alias="to")] = None,
    sort: Sort | None = None,
    direction: Annotated[Literal["asc", "desc"], Query(alias="dir")] = "asc",
    limit: Limit = None,
    cursor: Cursor = None,
) -> Response:
    """Invoice register rows (no lines), in the order they were drafted or sorted by ``sort``
    (number, customer, date, due_date, status, total, due) in ``dir``, a page at a time.
    The weak ETag changes with any new event or day; If-None-Match answers 304 while it
    holds."""
    ledger = svc.ledger
    wanted = InvoiceQuery(
        customer_id=str(ledger.customer(customer).id) if customer else None,
        status=status,
        number=number,
        date_from=date_from,
        date_to=date_to,
        sort=sort,
        descending=sort is not None and direction == "desc",
    )
    wanted.check()
    today = ledger.today()
    queries = queries_for(ledger)
    position = queries.catch_up("invoice_register")

    def make(response: Response) -> list[dict[str, Any]]:
        page = queries.invoices(wanted, today, limit=limit, cursor=cursor)
        return paged(request, response, page, [register_doc(row, today) for row in page.items])

    return cached_page(request, None if position is None else list_tag(position, today), make)


@router.post("", **answers(InvoiceDoc, 201))
def create_invoice(
    body: InvoiceCreate, svc: Svc, key: Writer, response: Response
) -> dict[str, Any]:
    invoice_id = svc.ledger.create_invoice(
        body.customer,
        key.name,
        invoice_date=body.invoice_date,
        due_date=body.due_date,
        period_start=body.period_start,
        period_end=body.period_end,
        memo=body.memo,
    )
    response.headers["Location"] = f"/invoices/{invoice_id}"
    return _doc(svc.ledger, str(invoice_id), response)


@router.get(
    "/{ref}.pdf",
    response_class=Response,
    responses={
        200: {
            "description": "The invoice as a PDF document (an attachment named after it);"
            " with `format=factur-x`, its EN 16931 e-invoice: a PDF/A-3 with the CII XML"
            " embedded as factur-x.xml.",
            "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
        },
    },
)
def invoice_pdf(
    ref: str,
    svc: Svc,
    _: Reader,
    as_of: IsoDateTime | None = None,
    format: Annotated[PdfFormat, Query(description="`pdf` or `factur-x`.")] = "pdf",
) -> Response:
    """The invoice as PDF (as it stood at ``as_of`` when given): the same bytes as the CLI's
    ``invoice pdf [--factur-x]``, so its SHA-256 can be checked against a recorded one; with a
    signing key configured (``TOLLBOOK_SIGNING_*``) those bytes followed by a PAdES signature
    made when served (docs/pdf.md, "Signing").
    ``format=factur-x`` refuses a draft or void invoice with 409 ``einvoice_not_possible``,
    and a document missing a detail EN 16931 needs with 422 ``einvoice_incomplete`` whose
    ``field`` names it (``settings.country``, ``settings.tax_number``, ``customer.country``,
    ``customer.tax_number``)."""
    made = invoice_download(svc.ledger, ref, format, at=as_of)
    return Response(
        made.content, media_type=MEDIA_TYPE, headers={"Content-Disposition": made.disposition}
    )


@router.get("/{ref}", **conditional_answers(InvoiceDoc))
def show_invoice(
    ref: str,
    request: Request,
    svc: Svc,
    _: Reader,
    response: Response,
    as_of: IsoDateTime | None = None,
    version: int | None = None,
) -> Response:
    """An invoice by number or id; ``as_of`` (with zone) or ``version`` shows it as it stood.
    The ETag is its version; If-None-Match answers 304 while it holds (never for an overdue
    invoice: it turned overdue with no new version)."""
    ledger = svc.ledger
    today = ledger.today()
    if as_of is None and version is None:
        invoice_id = ledger.invoice_id(ref)
        current = queries_for(ledger).version_of(invoice_id)

        def make(response: Response) -> tuple[int, dict[str, Any], bool]:
            invoice = ledger.invoice(invoice_id)
            set_etag(response, invoice.version)
            doc = invoice_doc(invoice, today)
            # a copy made before it turned overdue says otherwise, at the same version; one
            # whose stored amounts cannot be computed (docs/operations.md) is never kept
            return invoice.version, doc, doc["total"] is None or doc["status"] == "overdue"

        return cached_document(request, f"invoice/{invoice_id}", current, today, make)
    presented_tags(request)  # refused when malformed, as on every conditional read
    invoice_id = ledger.invoice_id(ref)
    past = ledger.as_of(Invoice, invoice_id, version=version, at=as_of)
    return document(invoice_doc(past, today))


@router.get("/{ref}/history", **answers(list[EventDoc]))
def invoice_history(ref: str, svc: Svc, _: Reader) -> list[dict[str, Any]]:
    return [event_doc(e) for e in svc.ledger.events_of(svc.ledger.invoice_id(ref))]


@router.post("/{ref}/lines", **answers(LineAdded, 201, if_match=True))
def add_line(
    ref: str, body: LineCreate, request: Request, svc: Svc, key: Writer, response: Response
) -> dict[str, Any]:
    invoice_id, expected = _precondition(request, svc.ledger, ref)
    common: dict[str, Any] = {
        "quantity": body.quantity,
        "unit_price": body.unit_price,
        "tax_rate": body.tax_rate,
        "tax_description": body.tax_description,
        "period_start": body.period_start,
        "period_end": body.period_end,
    }
    if body.package:
        line_id = svc.ledger.add_package_line(
            invoice_id,
            body.package,
            key.name,
            description=body.description,
            setup=body.setup,
            expected_version=expected,
            **common,
        )
    else:
        if body.setup:
            raise InvalidInput("setup needs a package")
        if not body.description or body.unit_price is None:
            raise InvalidInput("a line without a package needs a description and a unit_price")
        if common["quantity"] is None:
            common["quantity"] = Decimal(1)
        line_id = svc.ledger.add_line(
            invoice_id,
            key.name,
            description=body.description,
            unit=body.unit,
            expected_version=expected,
            **common,
        )
    return {"line_id": str(line_id), "invoice": _doc(svc.ledger, invoice_id, response)}


@router.post("/{ref}/discounts", **answers(DiscountAdded, 201, if_match=True))
def add_discount(
    ref: str, body: DiscountCreate, request: Request, svc: Svc, key: Writer, response: Response
) -> dict[str, Any]:
    """Grant a discount on a draft: its lines (kind ``discount``) follow the lines they
    discount; remove it by removing one of its lines."""
    invoice_id, expected = _precondition(request, svc.ledger, ref)
    discount_id = svc.ledger.add_discount(
        invoice_id,
        key.name,
        percent=body.percent,
        amount=body.amount,
        line_ref=body.line,
        description=body.description,
        expected_version=expected,
    )
    return {"discount_id": str(discount_id), "invoice": _doc(svc.ledger, invoice_id, response)}


@router.patch("/{ref}/lines/{line_ref}", **answers(InvoiceDoc, if_match=True))
def edit_line(
    ref: str,
    line_ref: str,
    body: LineChange,
    request: Request,
    svc: Svc,
    key: Writer,
    response: Response,
) -> dict[str, Any]:
    given = body.model_dump(exclude_unset=True)
    if not given:
        raise InvalidInput("nothing to change: give at least one field")
    invoice_id, expected = _precondition(request, svc.ledger, ref)
    changes = LineChanges.model_validate(given)
    svc.ledger.edit_line(invoice_id, line_ref, changes, key.name, expected_version=expected)
    return _doc(svc.ledger, invoice_id, response)


@router.delete("/{ref}/lines/{line_ref}", **answers(InvoiceDoc, if_match=True))
def remove_line(
    ref: str, line_ref: str, request: Request, svc: Svc, key: Writer, response: Response
) -> dict[str, Any]:
    invoice_id, expected = _precondition(request, svc.ledger, ref)
    svc.ledger.remove_line(invoice_id, line_ref, key.name, expected_version=expected)
    return _doc(svc.ledger, invoice_id, response)


@router.patch("/{ref}/dates", **answers(InvoiceDoc, if_match=True))
def change_dates(
    ref: str, body: DatesChange, request: Request, svc: Svc, key: Writer, response: Response
) -> dict[str, Any]:
    given = body.model_dump(exclude_unset=True)
    if not given:
        raise InvalidInput("nothing to change: give at least one date")
    invoice_id, expected = _precondition(request, svc.ledger, ref)
    changes = DatesChanges.model_validate(given)
    svc.ledger.change_invoice_dates(invoice_id, changes, key.name, expected_version=expected)
    return _doc(svc.ledger, invoice_id, response)


@router.post("/{ref}/due-date", **answers(InvoiceDoc, if_match=True))
def change_due_date(
    ref: str, body: DueDateChange, request: Request, svc: Svc, key: Writer, response: Response
) -> dict[str, Any]:
    """Give an issued invoice still owing money a new due date, with a reason (an
    ``Invoice.DueDateChanged`` event); refused on drafts, void and settled invoices."""
    invoice_id, expected = _precondition(request, svc.ledger, ref)
    svc.ledger.change_due_date(
        invoice_id, body.due_date, key.name, body.reason, expected_version=expected
    )
    return _doc(svc.ledger, invoice_id, response)


@router.post("/{ref}/issue", **answers(InvoiceDoc, if_match=True))
def issue_invoice(
    ref: str, request: Request, svc: Svc, key: Writer, response: Response
) -> dict[str, Any]:
    """Issue a draft: it takes the next gapless number and is frozen."""
    invoice_id, expected = _precondition(request, svc.ledger, ref)
    svc.ledger.issue_invoice(invoice_id, key.name, expected_version=expected)
    return _doc(svc.ledger, invoice_id, response)


@router.post("/{ref}/send", **answers(SendDoc, if_match=True))
def send_invoice(
    ref: str, body: SendRequest, request: Request, svc: Svc, key: Writer, response: Response
) -> dict[str, Any]:
    """E-mail an issued invoice with its PDF (docs/email.md). If-Match is checked before the
    message goes out; once the server accepted it, ``Invoice.Sent`` is recorded whatever was
    written meanwhile. A failed attempt answers 202 with ``status`` ``failed`` (recorded and
    retried by ``tollbook invoice retry-sends``); a draft or void invoice is a 409; no SMTP
    configuration (TOLLBOOK_SMTP_*) is a 503 ``mail_not_configured``."""
    from adapters.mail.sending import outcome_doc, request_send

    invoice_id, _ = _precondition(request, svc.ledger, ref)
    to = tuple(body.to) if body.to is not None else None
    try:
        outcome = request_send(
            svc.ledger, invoice_id, key.name, os.environ, to=to, key=body.key, dry_run=body.dry_run
        )
    except ConfigError as error:  # the deployment's fault, not the request's
        raise Problem(503, "mail_not_configured", str(error)) from None
    response.status_code = 202 if outcome.status == "failed" else 200
    return outcome_doc(outcome)


@router.post("/{ref}/void", **answers(InvoiceDoc, if_match=True))
def void_invoice(
    ref: str, body: Reason, request: Request, svc: Svc, key: Writer, response: Response
) -> dict[str, Any]:
    invoice_id, expected = _precondition(request, svc.ledger, ref)
    svc.ledger.void_invoice(invoice_id, key.name, body.reason, expected_version=expected)
    return _doc(svc.ledger, invoice_id, response)
