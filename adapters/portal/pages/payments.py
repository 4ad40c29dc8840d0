"""Payment pages: the list with the record form, one payment (complete, cancel) and allocating
it across several invoices at once (all or nothing: one ledger call)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request, Response

from adapters.describe import describe
from adapters.ledger.application import Ledger
from adapters.portal.paging import (
    aggregates_of,
    customer_picker,
    next_url,
    page_params,
    queries,
)
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
    money,
    render,
)
from adapters.queries import InvoiceQuery
from domain.errors import BillingError
from domain.invoice import Invoice
from domain.payment import Payment

router = APIRouter(prefix=PREFIX, route_class=PortalRoute, include_in_schema=False)

PAYMENT_STATUSES = ("pending", "completed", "cancelled")


def url_of(payment: Payment) -> str:
    return f"{PREFIX}/payments/{payment.id}"


def _list_page(
    request: Request,
    portal: Portal,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    ledger: Ledger = portal.services.ledger
    query = dict(request.query_params)
    limit, cursor = page_params(query)
    customer = query.get("customer", "")
    wanted_status = query.get("status", "")
    filter_errors: dict[str, str] = {}
    payments: list[Payment] = []
    next_link = None
    customer_id = None
    try:
        if customer:
            customer_id = str(ledger.customer(customer).id)
    except BillingError as error:
        filter_errors["filter_customer"] = str(error)
    if wanted_status and wanted_status not in PAYMENT_STATUSES:
        filter_errors["filter_status"] = f"unknown status {wanted_status[:40]!r}"
    if not filter_errors:
        page = queries(ledger).payments(
            customer_id=customer_id, status=wanted_status or None, limit=limit, cursor=cursor
        )
        payments = aggregates_of(ledger, page.items, "payment_id")
        next_link = next_url(request.url.path, query, page)
    picked = customer_picker(ledger, customer or (values or {}).get("customer"))
    record = {
        "received_on": ledger.today().isoformat(),
        "method": "bank transfer",
        "status": "completed",
        "customer": customer,
        **(values or {}),
    }
    return render(
        request,
        "payments.html",
        {
            "payments": payments,
            "next_link": next_link,
            "picker": picked,
            "statuses": PAYMENT_STATUSES,
            "filter": {"customer": customer, "status": wanted_status},
            "values": record,
            "errors": {**filter_errors, **(errors or {})},
        },
        status if not filter_errors else 422,
    )


@router.get("/payments")
def payment_list(request: Request, portal: PortalDep, session: Viewer) -> Response:
    del session
    return _list_page(request, portal)


@router.post("/payments")
def record_payment(
    request: Request, portal: PortalDep, session: Editor, form: FormValues
) -> Response:
    ledger: Ledger = portal.services.ledger
    fields = Fields(form)
    customer, payment = _new_payment(fields)
    payment_id = fields.submit(
        lambda: ledger.record_payment(customer, actor_of(session), **payment)
    )
    if payment_id is None:
        return _list_page(request, portal, values=fields.values, errors=fields.errors, status=422)
    recorded = ledger.payment(payment_id)
    return done(
        url_of(recorded),
        f"Payment of {money(recorded.amount, recorded.currency)} {recorded.currency}"
        f" recorded ({recorded.status}).",
    )


def _new_payment(fields: Fields) -> tuple[str, dict[str, Any]]:
    """The record form: the customer, and the payment's details."""
    customer = fields.text("customer", required="the customer")
    status = fields.text("status") or "pending"
    if status not in ("pending", "completed"):
        fields.errors["status"] = "a payment is recorded as pending or completed"
    return customer, {
        "amount": fields.amount("amount", "payment amount", required=True),
        "fee": fields.amount("fee", "payment fee") or Decimal(0),
        "received_on": fields.day("received_on", "date received"),
        "method": fields.text("method") or "bank transfer",
        "reference": fields.text("reference"),
        "status": "completed" if status == "completed" else "pending",
    }


def payment_page(
    request: Request,
    portal: Portal,
    ref: str,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    ledger: Ledger = portal.services.ledger
    payment = ledger.payment(ref)
    today = ledger.today()
    # the customer's invoices with something owed in the payment's currency, oldest due
    # first: a page of the invoice register (never a fold of the customer's invoices)
    query = dict(request.query_params)
    limit, cursor = page_params(query)
    owed = queries(ledger).invoices(
        InvoiceQuery(
            customer_id=str(payment.details.customer_id),
            currency=payment.currency,
            open_only=True,
            sort="due_date",
        ),
        today,
        limit=limit,
        cursor=cursor,
    )
    open_invoices: list[Invoice] = aggregates_of(ledger, owed.items, "invoice_id")
    allocated = [(ledger.invoice(iid), amount) for iid, amount in payment.allocations.items()]
    return render(
        request,
        "payment.html",
        {
            "payment": payment,
            "today": today,
            "open_invoices": [(i, i.status(today)) for i in open_invoices],
            "open_next": next_url(request.url.path, query, owed),
            "allocated": allocated,
            "history": [(e, describe(e)) for e in ledger.events_of(payment.id)],
            "values": values or {},
            "errors": errors or {},
        },
        status,
    )


@router.get("/payments/{ref}")
def show_payment(ref: str, request: Request, portal: PortalDep, session: Viewer) -> Response:
    del session
    return payment_page(request, portal, ref)


@router.post("/payments/{ref}/complete")
def complete(
    ref: str, request: Request, portal: PortalDep, session: Editor, form: FormValues
) -> Response:
    ledger: Ledger = portal.services.ledger
    payment = ledger.payment(ref)
    fields = Fields(form, shown=(), action="status")
    fields.submit(lambda: ledger.complete_payment(payment.id, actor_of(session)))
    if fields.ok:
        return done(url_of(payment), "Payment completed: it can now be allocated.")
    return payment_page(request, portal, ref, errors=fields.errors, status=409)


@router.post("/payments/{ref}/cancel")
def cancel(
    ref: str, request: Request, portal: PortalDep, session: Editor, form: FormValues
) -> Response:
    ledger: Ledger = portal.services.ledger
    payment = ledger.payment(ref)
    fields = Fields(form, shown=(), action="status")
    reason = fields.text("reason") or None
    fields.submit(lambda: ledger.cancel_payment(payment.id, actor_of(session), reason))
    if fields.ok:
        return done(url_of(payment), "Payment cancelled.")
    return payment_page(
        request, portal, ref, values=fields.values, errors=fields.errors, status=409
    )


@router.post("/payments/{ref}/allocations")
def allocate(
    ref: str, request: Request, portal: PortalDep, session: Editor, form: FormValues
) -> Response:
    ledger: Ledger = portal.services.ledger
    payment = ledger.payment(ref)
    fields = Fields(form)
    wanted = _allocations(ledger, fields)
    fields.submit(lambda: ledger.allocate(payment.id, wanted, actor_of(session)))
    if not fields.ok:
        return payment_page(
            request, portal, ref, values=fields.values, errors=fields.errors, status=409
        )
    total = sum((amount for _, amount in wanted), Decimal(0))
    return done(
        url_of(payment),
        f"{money(total, payment.currency)} {payment.currency} allocated over"
        f" {len(wanted)} invoice{'s' if len(wanted) != 1 else ''}.",
    )


def _allocations(ledger: Ledger, fields: Fields) -> list[tuple[str | UUID, Decimal]]:
    """The allocate form: an ``amount_<invoice id>`` field per open invoice; the invoices with
    an amount, each with its amount (a refusal about one shows at its field)."""
    wanted: list[tuple[str | UUID, Decimal]] = []
    for name in list(fields.values):
        if not name.startswith("amount_"):
            continue
        amount = fields.amount(name, "allocation amount")
        if amount is None or (amount == 0 and name not in fields.errors):
            continue
        try:
            wanted.append((ledger.invoice(name.removeprefix("amount_")).id, amount))
        except BillingError as error:
            fields.errors[name] = str(error)
    if fields.ok and not wanted:
        fields.errors["form"] = "enter an amount for at least one invoice"
    return wanted
