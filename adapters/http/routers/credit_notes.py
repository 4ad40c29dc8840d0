"""``/credit-notes``: credit issued invoices; show and list notes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from adapters.http.deps import Reader, Svc, Writer, check_if_match
from adapters.http.schemas import CreditNoteCreate
from adapters.views import credit_note_doc

router = APIRouter(prefix="/credit-notes", tags=["credit notes"])


@router.get("")
def list_credit_notes(svc: Svc, _: Reader, invoice: str | None = None) -> list[dict[str, Any]]:
    return [credit_note_doc(n) for n in svc.ledger.credit_notes(invoice)]


@router.post("", status_code=201)
def issue_credit_note(
    body: CreditNoteCreate, request: Request, svc: Svc, key: Writer, response: Response
) -> dict[str, Any]:
    """Credit an invoice in full, by a net amount, or by explicit lines (exactly one).
    If-Match refers to the invoice's version."""
    check_if_match(request, svc.ledger.invoice(body.invoice))
    lines = (
        [line.model_dump(exclude_none=True) for line in body.lines]
        if body.lines is not None
        else None
    )
    number = svc.ledger.issue_credit_note(
        body.invoice, key.name, body.reason, amount=body.amount, lines=lines, full=body.full
    )
    note = svc.ledger.credit_note(number)
    response.headers["Location"] = f"/credit-notes/{note.id}"
    return credit_note_doc(note)


@router.get("/{ref}")
def show_credit_note(ref: str, svc: Svc, _: Reader) -> dict[str, Any]:
    return credit_note_doc(svc.ledger.credit_note(ref))
