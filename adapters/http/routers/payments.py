"""``/payments`` and ``/balances``: money in, allocations, refunds, balances."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import Request, Response

from adapters.app.payment_history import payment_history_page
from adapters.http.conditional import cached_page, conditional_answers, document, list_tag
from adapters.http.deps import Reader, Svc, Writer, check_if_match, set_etag
from adapters.http.documents import BalanceDoc, EventDoc, PaymentDoc, answers
from adapters.http.paging import Cursor, Limit, paged
from adapters.http.routing import Router
from adapters.http.schemas import (
    AllocationCreate,
    IsoDate,
    OptionalReason,
    PaymentCreate,
    RefundCreate,
    Unallocation,
)
from adapters.http.write_guard import saved
from adapters.http.write_lane import WriteRoute
from adapters.ledger.application import Ledger
from adapters.queries import queries_for, reports
from adapters.queries.documents import aged_doc, balance_row_doc, history_doc
from adapters.views import event_doc, payment_doc
from domain.payment import Payment

router = Router(tags=["payments"], route_class=WriteRoute)


def _doc(ledger: Ledger, ref: str, response: Response, status: int = 200) -> Response:
    """The payment's document; after a write, the payment as this request saved it. Sent as
    built (``document``: the bytes FastAPI would send, without its ``jsonable_encoder`` walk),
    with the headers set on ``response``."""
    payment = saved(Payment, ref) or ledger.payment(ref)
    set_etag(response, payment.version)
    return document(payment_doc(payment), response, status)


def _precondition(request: Request, ledger: Ledger, ref: str) -> tuple[str, int | None]:
    """Check If-Match against the payment and pin the reference to its id; with the version
    the command must find (``expected_version``). A full id without If-Match needs no read
    here: the command loads the payment (and refuses an unknown one) itself."""
    if request.headers.get("if-match") is None:
        try:
            return str(UUID(ref)), None
        except ValueError:
            pass
    payment = ledger.payment(ref)
    return str(payment.id), check_if_match(request, payment)


@router.get("/payments", **answers(list[PaymentDoc]))
def list_payments(
    request: Request,
    response: Response,
    svc: Svc,
    _: Reader,
    customer: str | None = None,
    limit: Limit = None,
    cursor: Cursor = None,
) -> list[dict[str, Any]]:
    """Payments in the order they were recorded (of one customer), a page at a time."""
    ledger = svc.ledger
    customer_id = str(ledger.customer(customer).id) if customer else None
    queries = queries_for(ledger)
    page = queries.payments(customer_id=customer_id, limit=limit, cursor=cursor)
    found = queries.aggregates([row["payment_id"] for row in page.items])
    return paged(request, response, page, [payment_doc(p) for p in found])


@router.post("/payments", **answers(PaymentDoc, 201))
def record_payment(body: PaymentCreate, svc: Svc, key: Writer, response: Response) -> Response:
    payment_id = svc.ledger.record_payment(
        body.customer,
        key.name,
        amount=body.amount,
        currency=body.currency,
        received_on=body.received_on,
        method=body.method,
        reference=body.reference,
        fee=body.fee,
        status=body.status,
        idempotency_key=body.idempotency_key,
    )
    response.headers["Location"] = f"/payments/{payment_id}"
    return _doc(svc.ledger, str(payment_id), response, 201)


@router.get("/payments/{ref}", **answers(PaymentDoc))
def show_payment(ref: str, svc: Svc, _: Reader, response: Response) -> Response:
    return _doc(svc.ledger, ref, response)


@router.get("/payments/{ref}/history", **answers(list[EventDoc]))
def payment_history(ref: str, svc: Svc, _: Reader) -> list[dict[str, Any]]:
    return [event_doc(e) for e in svc.ledger.events_of(svc.ledger.payment(ref).id)]


@router.post("/payments/{ref}/complete", **answers(PaymentDoc, if_match=True))
def complete_payment(
    ref: str, request: Request, svc: Svc, key: Writer, response: Response
) -> Response:
    payment_id, expected = _precondition(request, svc.ledger, ref)
    svc.ledger.complete_payment(payment_id, key.name, expected_version=expected)
    return _doc(svc.ledger, payment_id, response)


@router.post("/payments/{ref}/cancel", **answers(PaymentDoc, if_match=True))
def cancel_payment(
    ref: str,
    request: Request,
    svc: Svc,
    key: Writer,
    response: Response,
    body: OptionalReason | None = None,
) -> Response:
    payment_id, expected = _precondition(request, svc.ledger, ref)
    svc.ledger.cancel_payment(
        payment_id, key.name, body.reason if body else None, expected_version=expected
    )
    return _doc(svc.ledger, payment_id, response)


@router.post("/payments/{ref}/allocations", **answers(PaymentDoc, if_match=True))
def allocate_payment(
    ref: str,
    body: AllocationCreate,
    request: Request,
    svc: Svc,
    key: Writer,
    response: Response,
) -> Response:
    """Allocate over one or several invoices, all or nothing. If-Match: the payment's."""
    payment_id, expected = _precondition(request, svc.ledger, ref)
    pairs: list[tuple[str, Any]] = [(item.invoice, item.amount) for item in body.allocations]
    svc.ledger.allocate(payment_id, pairs, key.name, body.reason, expected_version=expected)
    return _doc(svc.ledger, payment_id, response)


@router.post("/payments/{ref}/unallocations", **answers(PaymentDoc, if_match=True))
def unallocate_payment(
    ref: str,
    body: Unallocation,
    request: Request,
    svc: Svc,
    key: Writer,
    response: Response,
) -> Response:
    payment_id, expected = _precondition(request, svc.ledger, ref)
    svc.ledger.unallocate(
        payment_id, body.invoice, body.amount, key.name, body.reason, expected_version=expected
    )
    return _doc(svc.ledger, payment_id, response)


@router.post("/payments/{ref}/refunds", **answers(PaymentDoc, if_match=True))
def refund_payment(
    ref: str,
    body: RefundCreate,
    request: Request,
    svc: Svc,
    key: Writer,
    response: Response,
) -> Response:
    payment_id, expected = _precondition(request, svc.ledger, ref)
    svc.ledger.refund_payment(
        payment_id,
        body.amount,
        key.name,
        method=body.method,
        reference=body.reference,
        reason=body.reason,
        expected_version=expected,
    )
    return _doc(svc.ledger, payment_id, response)


@router.get("/balances", tags=["balances"], **conditional_answers(list[BalanceDoc]))
def balances(
    request: Request,
    svc: Svc,
    _: Reader,
    customer: str | None = None,
    limit: Limit = None,
    cursor: Cursor = None,
) -> Response:
    """Balances per customer and currency from the balances read model (caught up first),
    by customer account then currency, a page at a time. The weak ETag changes with any new
    event or day; If-None-Match answers 304 while it holds."""
    ledger = svc.ledger
    customer_id = str(ledger.customer(customer).id) if customer else None
    queries = queries_for(ledger)
    position = queries.catch_up("balances")

    def make(response: Response) -> list[dict[str, Any]]:
        page = queries.balances(customer_id=customer_id, limit=limit, cursor=cursor)
        return paged(request, response, page, [balance_row_doc(row) for row in page.items])

    tag = None if position is None else list_tag(position, ledger.today())
    return cached_page(request, tag, make)


@router.get("/aged-receivables", tags=["balances"])
def aged_receivables(
    request: Request,
    response: Response,
    svc: Svc,
    _: Reader,
    as_of: IsoDate | None = None,
    customer: str | None = None,
    limit: Limit = None,
    cursor: Cursor = None,
) -> list[dict[str, Any]]:
    """What each customer owed at the end of ``as_of`` (default today) per currency, by
    bucket (current, 1-30, 31-60, 61-90, 90+ days past due), from the aged receivables read
    model. A page takes ``limit`` customer-currency pairs by account and leaves out those
    owing nothing: a page may be short (even empty) and still have a next page."""
    ledger = svc.ledger
    customer_id = str(ledger.customer(customer).id) if customer else None
    day = as_of or ledger.today()
    page = reports.aged(
        queries_for(ledger), day, customer_id=customer_id, limit=limit, cursor=cursor
    )
    return paged(request, response, page, [aged_doc(row) for row in page.items])


@router.get("/payment-history", tags=["payments"])
def payment_history_list(
    request: Request,
    response: Response,
    svc: Svc,
    _: Reader,
    customer: str | None = None,
    invoice: str | None = None,
    payment: str | None = None,
    limit: Limit = None,
    cursor: Cursor = None,
) -> list[dict[str, Any]]:
    """Every payment movement (received, completed, cancelled, allocated, unallocated,
    refunded) in the order it happened, from the payment history read model, a page at a
    time."""
    page = payment_history_page(
        svc.ledger, customer=customer, invoice=invoice, payment=payment, limit=limit, cursor=cursor
    )
    return paged(request, response, page, [history_doc(row) for row in page.items])
