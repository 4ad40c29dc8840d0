"""A customer's statement of account in the portal: the period form and the statement on its
own page, and its PDF (the same bytes as the CLI's and the API's; docs/statements.md)."""

from __future__ import annotations

import os
from datetime import date
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response

from adapters.app.einvoices import MEDIA_TYPE
from adapters.app.statements import customer_statement, statement_pdf
from adapters.config_error import ConfigError
from adapters.mail.statements import request_statement_send
from adapters.portal.web import (
    PREFIX,
    Editor,
    Fields,
    FormValues,
    PortalDep,
    PortalRoute,
    Viewer,
    actor_of,
    done,
    error_page,
    render,
)
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
    start, end = _asked_period(fields)
    found = customer_statement(ledger, ref, start, end)
    made = statement_pdf(ledger, found, fields.text("currency") or None)
    return Response(
        made.content, media_type=MEDIA_TYPE, headers={"Content-Disposition": made.disposition}
    )


#: what the page says after a send, by its outcome
_SAID = {
    "sent": "Statement sent to {to}",
    "already-sent": "This statement was sent already: nothing sent again",
    "failed": "Statement not sent ({error}): it is retried later",
}


def _asked_period(fields: Fields) -> tuple[date, date]:
    start, end = fields.day("from", "from", required=True), fields.day("to", "to", required=True)
    if start is None or end is None:
        raise InvalidInput("; ".join(fields.errors.values()))
    return start, end


@router.post("/customers/{ref}/statement/send")
def send_statement(
    ref: str, request: Request, portal: PortalDep, session: Editor, values: FormValues
) -> Response:
    """E-mail the statement of the period shown (one currency) to the customer's billing
    addresses, or those typed: the CLI's and the API's send (docs/statements.md, "By
    e-mail"), once per period and currency; the outcome comes back as the page's message."""
    ledger = portal.services.ledger
    fields = Fields(values)
    start, end = _asked_period(fields)
    found = customer_statement(ledger, ref, start, end)
    try:
        outcome = request_statement_send(
            ledger, found, actor_of(session), os.environ,
            currency=fields.text("currency") or None, to=fields.text("recipients") or None,
        )  # fmt: skip
    except ConfigError as error:
        return error_page(request, 503, "E-mail is not configured", str(error))
    said = _SAID[outcome.status].format(
        to=", ".join(outcome.prepared.delivery.recipients), error=outcome.error
    )
    query = urlencode({"from": start.isoformat(), "to": end.isoformat()})
    return done(f"{PREFIX}/customers/{found.customer_account}/statement?{query}", said)
