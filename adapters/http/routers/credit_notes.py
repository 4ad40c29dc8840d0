"""``/credit-notes``: credit issued invoices; show, list and e-mail notes."""

from __future__ import annotations

import os
from typing import Annotated, Any

from fastapi import Query, Request, Response

from adapters.app.einvoices import MEDIA_TYPE, PdfFormat, credit_note_download
from adapters.config_error import ConfigError
from adapters.http.deps import Reader, Svc, Writer, check_if_match
from adapters.http.documents import CreditNoteDoc, SendDoc, answers
from adapters.http.paging import Cursor, Limit, paged
from adapters.http.problems import Problem
from adapters.http.routing import Router
from adapters.http.schemas import CreditNoteCreate, SendRequest
from adapters.queries import queries_for
from adapters.views import credit_note_doc
from domain.credit_note import CreditLine

router = Router(prefix="/credit-notes", tags=["credit notes"])


@router.get(
    "/{ref}.pdf",
    response_class=Response,
    responses={
        200: {
            "description": "The credit note as a PDF document; with `format=factur-x`, its"
            " EN 16931 e-invoice (type 381, naming the invoice it credits).",
            "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
        },
    },
)
def credit_note_pdf(
    ref: str,
    svc: Svc,
    _: Reader,
    format: Annotated[PdfFormat, Query(description="`pdf` or `factur-x`.")] = "pdf",
) -> Response:
    """The credit note as PDF: the same bytes as the CLI's ``credit-note pdf [--factur-x]``
    (PAdES-signed when a signing key is configured, as the CLI signs);
    ``format=factur-x`` refuses a missing EN 16931 detail with 422 ``einvoice_incomplete``
    (``field`` names it)."""
    made = credit_note_download(svc.ledger, ref, format)
    return Response(
        made.content, media_type=MEDIA_TYPE, headers={"Content-Disposition": made.disposition}
    )


@router.get("", **answers(list[CreditNoteDoc]))
def list_credit_notes(
    request: Request,
    response: Response,
    svc: Svc,
    _: Reader,
    invoice: str | None = None,
    limit: Limit = None,
    cursor: Cursor = None,
) -> list[dict[str, Any]]:
    """Credit notes in the order they were issued (of one invoice), a page at a time."""
    ledger = svc.ledger
    invoice_id = str(ledger.invoice_id(invoice)) if invoice else None
    queries = queries_for(ledger)
    page = queries.credit_notes(invoice_id=invoice_id, limit=limit, cursor=cursor)
    found = queries.aggregates([row["credit_note_id"] for row in page.items])
    return paged(request, response, page, [credit_note_doc(n) for n in found])


@router.post("", **answers(CreditNoteDoc, 201, if_match=True))
def issue_credit_note(
    body: CreditNoteCreate, request: Request, svc: Svc, key: Writer, response: Response
) -> dict[str, Any]:
    """Credit an invoice in full, by a net amount, or by explicit lines (exactly one).
    If-Match refers to the invoice's version."""
    expected = check_if_match(request, svc.ledger.invoice(body.invoice))
    lines = (
        [CreditLine.model_validate(line.model_dump(exclude_none=True)) for line in body.lines]
        if body.lines is not None
        else None
    )
    number = svc.ledger.issue_credit_note(
        body.invoice,
        key.name,
        body.reason,
        amount=body.amount,
        lines=lines,
        full=body.full,
        expected_version=expected,
    )
    note = svc.ledger.credit_note(number)
    response.headers["Location"] = f"/credit-notes/{note.id}"
    return credit_note_doc(note)


@router.get("/{ref}", **answers(CreditNoteDoc))
def show_credit_note(ref: str, svc: Svc, _: Reader) -> dict[str, Any]:
    return credit_note_doc(svc.ledger.credit_note(ref))


@router.post("/{ref}/send", **answers(SendDoc, if_match=True))
def send_credit_note(
    ref: str, body: SendRequest, request: Request, svc: Svc, key: Writer, response: Response
) -> dict[str, Any]:
    """E-mail a credit note with its PDF (docs/email.md), as ``POST /invoices/{ref}/send``
    does an invoice: If-Match (the note's version) is checked before the message goes out; a
    failed attempt answers 202 with ``status`` ``failed`` (recorded as
    ``CreditNote.SendFailed`` and retried); no SMTP configuration is a 503
    ``mail_not_configured``."""
    from adapters.mail.sending import outcome_doc, request_send

    note = svc.ledger.credit_note(ref)
    check_if_match(request, note)
    to = tuple(body.to) if body.to is not None else None
    try:
        outcome = request_send(
            svc.ledger, note.id, key.name, os.environ,
            to=to, key=body.key, dry_run=body.dry_run, kind="credit_note",
        )  # fmt: skip
    except ConfigError as error:  # the deployment's fault, not the request's
        raise Problem(503, "mail_not_configured", str(error)) from None
    response.status_code = 202 if outcome.status == "failed" else 200
    return outcome_doc(outcome)
