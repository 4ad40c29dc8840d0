"""Payment pages: the list with the record form, one payment (complete, cancel) and allocating
it across several invoices at once (all or nothing: one ledger call)."""

from __future__ import annotations

from decimal import Decimal

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
RECORD_FIELDS = {
    "amount": ("payment amount", "amount"),
    "fee": ("fee",),
    "received_on": ("date",),
    "customer": ("customer",),
}


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
    customer = fields.text("customer", required="the customer")
    amount = fields.amount("amount", "payment amount", required=True)
    fee = fields.amount("fee", "payment fee")
    received_on = fields.day("received_on", "date received")
    status = fields.text("status") or "pending"
    if status not in ("pending", "completed"):
        fields.errors["status"] = "a payment is recorded as pending or completed"
    if fields.ok:
        assert amount is not None
        try:
            payment_id = ledger.record_payment(
                customer,
                actor_of(session),
                amount=amount,
                received_on=received_on,
                method=fields.text("method") or "bank transfer",
                reference=fields.text("reference"),
                fee=fee or Decimal(0),
                status="completed" if status == "completed" else "pending",
            )
        except BillingError as error:
            fields.refuse(error, RECORD_FIELDS)
        else:
            payment = ledger.payment(payment_id)
            return done(
                url_of(payment),
                f"Payment of {money(payment.amount, payment.currency)} {payment.currency}"
                f" recorded ({payment.status}).",
            )
    return _list_page(request, portal, values=fields.values, errors=fields.errors, status=422)


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
    del form
    ledger: Ledger = portal.services.ledger
    payment = ledger.payment(ref)
    try:
        ledger.complete_payment(payment.id, actor_of(session))
    except BillingError as error:
        return payment_page(request, portal, ref, errors={"status": str(error)}, status=409)
    return done(url_of(payment), "Payment completed: it can now be allocated.")


@router.post("/payments/{ref}/cancel")
def cancel(
    ref: str, request: Request, portal: PortalDep, session: Editor, form: FormValues
) -> Response:
    ledger: Ledger = portal.services.ledger
    payment = ledger.payment(ref)
    reason = form.get("reason", "").strip() or None
    try:
        ledger.cancel_payment(payment.id, actor_of(session), reason)
    except BillingError as error:
        return payment_page(
            request, portal, ref, values=form, errors={"status": str(error)}, status=409
        )
    return done(url_of(payment), "Payment cancelled.")


@router.post("/payments/{ref}/allocations")
def allocate(
    ref: str, request: Request, portal: PortalDep, session: Editor, form: FormValues
) -> Response:
    ledger: Ledger = portal.services.ledger
    payment = ledger.payment(ref)
    fields = Fields(form)
    wanted: list[tuple[Invoice, Decimal]] = []
    for name in fields.values:
        if not name.startswith("amount_"):
            continue
        amount = fields.amount(name, "allocation amount")
        if amount is None or (amount == 0 and name not in fields.errors):
            continue
        invoice_ref = name.removeprefix("amount_")
        try:
            wanted.append((ledger.invoice(invoice_ref), amount))
        except BillingError as error:
            fields.errors[name] = str(error)
    if fields.ok and not wanted:
        fields.errors["form"] = "enter an amount for at least one invoice"
    if fields.ok:
        try:
            ledger.allocate(
                payment.id, [(invoice.id, amount) for invoice, amount in wanted], actor_of(session)
            )
        except BillingError as error:
            named = {f"amount_{i.id}": (i.label.lower(),) for i, _ in wanted}
            fields.refuse(error, named)
        else:
            total = sum((amount for _, amount in wanted), Decimal(0))
            return done(
                url_of(payment),
                f"{money(total, payment.currency)} {payment.currency} allocated over"
                f" {len(wanted)} invoice{'s' if len(wanted) != 1 else ''}.",
            )
    return payment_page(
        request, portal, ref, values=fields.values, errors=fields.errors, status=409
    )
