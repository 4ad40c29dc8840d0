"""A customer's statement of account in the portal: the period form and the statement on its
own page, and its PDF (the same bytes as the CLI's and the API's; docs/statements.md)."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Request, Response

from adapters.app.einvoices import MEDIA_TYPE
from adapters.app.statements import customer_statement, statement_pdf
from adapters.portal.web import PREFIX, Fields, PortalDep, PortalRoute, Viewer, render
from adapters.queries.statements import Statement, section_doc
from domain.errors import InvalidInput

router = APIRouter(prefix=PREFIX, route_class=PortalRoute, include_in_schema=False)


def _period(fields: Fields, today: date) -> tuple[date | None, date | None]:
    """The period asked for; without one, this month so far."""
    if not fields.values.get("from") and not fields.values.get("to"):
        fields.values.update({"from": today.replace(day=1).isoformat(), "to": today.isoformat()})
    return fields.day("from", "from", required=True), fields.day("to", "to", required=True)


@router.get("/customers/{ref}/statement")
def statement_page(ref: str, request: Request, portal: PortalDep, session: Viewer) -> Response:
    del session
    ledger = portal.services.ledger
    customer = ledger.customer(ref)
    fields = Fields(dict(request.query_params))
    start, end = _period(fields, ledger.today())
    found: Statement | None = None
    if start is not None and end is not None:
        found = fields.submit(lambda: customer_statement(ledger, str(customer.id), start, end))
    context = {
        "customer": customer,
        "profile": customer.profile_on(ledger.today()),
        "found": found,
        "sections": [section_doc(s) for s in found.sections] if found else [],
        "values": fields.values,
        "errors": fields.errors,
    }
    return render(request, "statement.html", context, 200 if found else 422)


@router.get("/customers/{ref}/statement.pdf")
def statement_file(ref: str, request: Request, portal: PortalDep, session: Viewer) -> Response:
    """The statement's PDF (one currency: ``currency``, default the customer's)."""
    del session
    ledger = portal.services.ledger
    fields = Fields(dict(request.query_params))
    start, end = fields.day("from", "from", required=True), fields.day("to", "to", required=True)
    if start is None or end is None:
        raise InvalidInput("; ".join(fields.errors.values()))
    found = customer_statement(ledger, ref, start, end)
    made = statement_pdf(ledger, found, fields.text("currency") or None)
    return Response(
        made.content, media_type=MEDIA_TYPE, headers={"Content-Disposition": made.disposition}
    )
