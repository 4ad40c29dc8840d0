"""``/customers``: register, change, show, list; package assignments; history."""

from __future__ import annotations

import os
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import Query, Request, Response

from adapters.app import statements
from adapters.config_error import ConfigError
from adapters.http.deps import Reader, Svc, Writer, check_if_match, set_etag
from adapters.http.documents import (
    AssignmentAdded,
    CustomerDoc,
    EventDoc,
    SendDoc,
    StatementDoc,
    answers,
)
from adapters.http.paging import Cursor, Limit, paged
from adapters.http.problems import Problem
from adapters.http.routing import Router
from adapters.http.schemas import (
    AssignmentCreate,
    AssignmentEnd,
    CustomerChange,
    CustomerCreate,
    IsoDate,
    StatementSendRequest,
)
from adapters.queries import queries_for
from adapters.queries.statements import statement_csv, statement_doc
from adapters.views import customer_doc, event_doc
from domain.changes import CustomerChanges
from domain.errors import InvalidInput

router = Router(prefix="/customers", tags=["customers"])


@router.get("", **answers(list[CustomerDoc]))
def list_customers(
    request: Request,
    response: Response,
    svc: Svc,
    _: Reader,
    limit: Limit = None,
    cursor: Cursor = None,
) -> list[dict[str, Any]]:
    """Customers in the order they were registered, a page at a time."""
    today = svc.ledger.today()
    queries = queries_for(svc.ledger)
    page = queries.customers(limit=limit, cursor=cursor)
    found = queries.aggregates([row["customer_id"] for row in page.items])
    return paged(request, response, page, [customer_doc(c, today) for c in found])


@router.post("", **answers(CustomerDoc, 201))
def register_customer(
    body: CustomerCreate, svc: Svc, key: Writer, response: Response
) -> dict[str, Any]:
    customer_id = svc.ledger.register_customer(key.name, **body.given())
    customer = svc.ledger.customer(customer_id)
    set_etag(response, customer.version)
    response.headers["Location"] = f"/customers/{customer_id}"
    return customer_doc(customer, svc.ledger.today())


@router.get("/{ref}", **answers(CustomerDoc))
def show_customer(
    ref: str, svc: Svc, _: Reader, response: Response, on: IsoDate | None = None
) -> dict[str, Any]:
    """One customer by account number or id; ``on`` shows the details in force that day."""
    customer = svc.ledger.customer(ref)
    set_etag(response, customer.version)
    return customer_doc(customer, on or svc.ledger.today())


@router.patch("/{ref}", **answers(CustomerDoc, if_match=True))
def change_customer(
    ref: str, body: CustomerChange, request: Request, svc: Svc, key: Writer, response: Response
) -> dict[str, Any]:
    """Change details now or from ``effective_from``; honours If-Match."""
    given = body.given()
    if not given:
        raise InvalidInput("nothing to change: give at least one field")
    expected = check_if_match(request, svc.ledger.customer(ref))
    changes = CustomerChanges.model_validate(given)
    svc.ledger.change_customer(
        ref, changes, key.name, body.effective_from, body.reason, expected_version=expected
    )
    customer = svc.ledger.customer(ref)
    set_etag(response, customer.version)
    return customer_doc(customer, svc.ledger.today())


@router.get("/{ref}/history", **answers(list[EventDoc]))
def customer_history(ref: str, svc: Svc, _: Reader) -> list[dict[str, Any]]:
    return [event_doc(e) for e in svc.ledger.events_of(svc.ledger.customer(ref).id)]


StatementFormat = Literal["json", "pdf", "csv"]


@router.get(
    "/{ref}/statement",
    response_model=None,
    responses={
        200: {
            "model": StatementDoc,
            "description": "The statement of account (docs/statements.md); with `format=pdf`"
            " the PDF of one currency (`currency`, default the customer's), with `format=csv`"
            " its lines as CSV.",
            "content": {
                "application/pdf": {"schema": {"type": "string", "format": "binary"}},
                "text/csv": {"schema": {"type": "string"}},
            },
        }
    },
)
def customer_statement(
    ref: str,
    svc: Svc,
    _: Reader,
    date_from: Annotated[IsoDate, Query(alias="from", description="First day (included).")],
    to: Annotated[IsoDate, Query(description="Last day (included).")],
    format: Annotated[StatementFormat, Query(description="`json`, `pdf` or `csv`.")] = "json",
    currency: Annotated[str | None, Query(description="The PDF's currency.")] = None,
) -> Response | dict[str, Any]:
    """A customer's statement of account from ``from`` to ``to`` (at most 366 days): opening
    balance, every invoice, credit note, payment and refund with a running balance, closing
    balance and aged buckets, per currency. The same numbers and PDF bytes as the CLI's
    ``customer statement``. A bad period is 422 with ``field`` ``from`` or ``to``."""
    found = statements.customer_statement(svc.ledger, ref, date_from, to)
    if format == "pdf":
        made = statements.statement_pdf(svc.ledger, found, currency)
        return Response(made.content, media_type="application/pdf",
                        headers={"Content-Disposition": made.disposition})  # fmt: skip
    if format == "csv":
        return Response(statement_csv(found), media_type="text/csv; charset=utf-8")
    return statement_doc(found)


@router.post("/{ref}/statement/send", **answers(SendDoc))
def send_statement(
    ref: str, body: StatementSendRequest, svc: Svc, key: Writer, response: Response
) -> dict[str, Any]:
    """E-mail a customer's statement of account with its PDF (docs/statements.md, "By
    e-mail"), as ``tollbook customer statement --send`` does: recorded as
    ``Customer.StatementSent``, once per period, currency and ``key``; a failed attempt answers
    202 with ``status`` ``failed`` (recorded and retried with back-off); a bad period is 422
    naming ``from`` or ``to``; no SMTP configuration is a 503 ``mail_not_configured``."""
    from adapters.mail.sending import outcome_doc
    from adapters.mail.statements import request_statement_send

    found = statements.customer_statement(svc.ledger, ref, body.period_from, body.period_to)
    recipients = tuple(body.recipients) if body.recipients is not None else None
    try:
        outcome = request_statement_send(
            svc.ledger, found, key.name, os.environ, currency=body.currency,
            to=recipients, key=body.key, dry_run=body.dry_run,
        )  # fmt: skip
    except ConfigError as error:  # the deployment's fault, not the request's
        raise Problem(503, "mail_not_configured", str(error)) from None
    response.status_code = 202 if outcome.status == "failed" else 200
    return outcome_doc(outcome)


@router.post("/{ref}/assignments", **answers(AssignmentAdded, 201, if_match=True))
def assign_package(
    ref: str,
    body: AssignmentCreate,
    request: Request,
    svc: Svc,
    key: Writer,
    response: Response,
) -> dict[str, Any]:
    expected = check_if_match(request, svc.ledger.customer(ref))
    assignment_id = svc.ledger.assign_package(
        ref,
        body.package,
        key.name,
        start_date=body.start_date,
        quantity=body.quantity,
        end_date=body.end_date,
        expected_version=expected,
    )
    customer = svc.ledger.customer(ref)
    set_etag(response, customer.version)
    return {
        "assignment_id": str(assignment_id),
        "customer": customer_doc(customer, svc.ledger.today()),
    }


@router.post("/{ref}/assignments/{assignment_id}/end", **answers(CustomerDoc, if_match=True))
def end_assignment(
    ref: str,
    assignment_id: UUID,
    body: AssignmentEnd,
    request: Request,
    svc: Svc,
    key: Writer,
    response: Response,
) -> dict[str, Any]:
    expected = check_if_match(request, svc.ledger.customer(ref))
    svc.ledger.end_assignment(
        ref, assignment_id, body.end_date, key.name, expected_version=expected
    )
    customer = svc.ledger.customer(ref)
    set_etag(response, customer.version)
    return customer_doc(customer, svc.ledger.today())
