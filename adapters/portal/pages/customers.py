"""Customer pages: the list, registering a customer, and the customer's own page (details and
settings, packages, invoices, payments, balance, aged debt, invoiced vs paid per month)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, cast
from uuid import UUID

from fastapi import APIRouter, Request, Response

from adapters.ledger.application import Ledger
from adapters.portal.chart import chart
from adapters.portal.paging import (
    aggregates_of,
    next_url,
    package_picker,
    page_params,
    queries,
    shown_invoices,
)
from adapters.portal.reads import BUCKETS
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
    plain,
    render,
)
from adapters.queries import MAX_LIMIT, InvoiceQuery, reports
from domain.address import PostalAddress
from domain.changes import CustomerChanges
from domain.customer import Customer, CustomerProfile
from domain.dunning import parse_offsets, schedule_text
from domain.package import Package
from domain.payment import Payment
from domain.pricing import parse_price, price_text
from domain.tax_treatment import TaxTreatment
from domain.values import LINE_GROUPINGS

router = APIRouter(prefix=PREFIX, route_class=PortalRoute, include_in_schema=False)

ADDRESS_PARTS = ("city", "region", "postal_code", "country")
GROUPINGS = [
    (
        value,
        {
            "none": "One usage line",
            "destination": "A line per destination",
            "day": "A line per day",
        }[value],
    )
    for value in LINE_GROUPINGS
]
TREATMENTS = [(treatment.value, treatment.label) for treatment in TaxTreatment]
TEXT_SETTINGS = (
    "name",
    "billing_address",
    "tax_number",
    "email",
    "tax_description",
    "external_accounting_id",
    "time_zone",
)


def _address_of(fields: Fields) -> dict[str, Any] | None:
    """The structured address of the form (one textarea line per address line), or None
    when every part is empty: no structured address, the free text shows."""
    lines = fields.text("address_lines").splitlines()
    parts = {name: fields.text(name) for name in ADDRESS_PARTS}
    if not any(line.strip() for line in lines) and not any(parts.values()):
        return None
    return {"lines": lines, **parts}


def _address_values(address: PostalAddress | None) -> dict[str, str]:
    if address is None:
        return {"address_lines": "", **dict.fromkeys(ADDRESS_PARTS, "")}
    parts = address.model_dump(include=set(ADDRESS_PARTS))
    return {"address_lines": "\n".join(address.lines), **parts}


def url_of(customer: Customer) -> str:
    return f"{PREFIX}/customers/{customer.registered.account_number}"


@router.get("/customers")
def customer_list(request: Request, portal: PortalDep, session: Viewer) -> Response:
    del session
    ledger: Ledger = portal.services.ledger
    query = dict(request.query_params)
    limit, cursor = page_params(query)
    page = queries(ledger).customers(limit=limit, cursor=cursor)
    customers: list[Customer] = aggregates_of(ledger, page.items, "customer_id")
    today = ledger.today()
    return render(
        request,
        "customers.html",
        {
            "customers": [(c, c.profile_on(today)) for c in customers],
            "next_link": next_url(request.url.path, query, page),
        },
    )


@router.get("/customers/new")
def new_customer_form(request: Request, portal: PortalDep, session: Editor) -> Response:
    del session
    settings = portal.services.ledger.settings()
    defaults = {
        "currency": settings.default_currency,
        "tax_rate": plain(settings.default_tax_rate),
        "tax_description": settings.default_tax_description,
        "payment_terms_days": str(settings.default_payment_terms_days),
        "time_zone": "UTC",
    }
    return render(
        request,
        "customer_new.html",
        {"values": defaults, "groupings": GROUPINGS, "treatments": TREATMENTS},
    )


@router.post("/customers")
def register_customer(
    request: Request, portal: PortalDep, session: Editor, form: FormValues
) -> Response:
    ledger: Ledger = portal.services.ledger
    fields = Fields(form)
    profile = _new_profile(fields)
    fields.submit(lambda: ledger.register_customer(actor_of(session), **profile))
    if fields.ok:
        customer = ledger.customer(profile["account_number"])
        return done(url_of(customer), f"Customer {profile['account_number']} registered.")
    return render(
        request,
        "customer_new.html",
        {
            "values": fields.values,
            "errors": fields.errors,
            "groupings": GROUPINGS,
            "treatments": TREATMENTS,
        },
        422,
    )


def _new_profile(fields: Fields) -> dict[str, Any]:
    """The registration form: the profile's fields that were given."""
    profile: dict[str, Any] = {
        "account_number": fields.text("account_number", required="the account number"),
        "name": fields.text("name", required="the customer name"),
        "currency": fields.text("currency", required="the currency").upper(),
        "tax_rate": fields.amount("tax_rate", "tax rate", required=True),
        "tax_description": fields.text("tax_description"),
        "payment_terms_days": fields.whole("payment_terms_days", "payment terms"),
    }
    for name in ("billing_address", "tax_number", "email", "external_accounting_id"):
        profile[name] = fields.text(name)
    profile["address"] = _address_of(fields)
    profile["time_zone"] = fields.text("time_zone") or "UTC"
    profile["tax_treatment"] = fields.text("tax_treatment") or TaxTreatment.STANDARD.value
    grouping = fields.text("invoice_line_grouping")
    if grouping:
        profile["invoice_line_grouping"] = grouping
    return {k: v for k, v in profile.items() if v is not None}


def customer_page(
    request: Request,
    portal: Portal,
    ref: str,
    *,
    form: str = "",
    fields: Fields | None = None,
    status: int = 200,
) -> Response:
    """The customer's page; ``form`` names the form whose ``fields`` to show again."""
    values = fields.values if fields else None
    errors = fields.errors if fields else None
    ledger: Ledger = portal.services.ledger
    customer = ledger.customer(ref)
    today = ledger.today()
    profile = customer.profile_on(today)
    customer_id = str(customer.id)
    # every list and figure here comes from the read models through the query path; the
    # invoices and payments are a first page, continued by the invoice and payment lists
    found = queries(ledger)
    invoices = found.invoices(InvoiceQuery(customer_id=customer_id), today)
    paid = found.payments(customer_id=customer_id)
    payments: list[Payment] = aggregates_of(ledger, paid.items, "payment_id")
    account = {"customer": customer.registered.account_number}
    picked = package_picker(ledger, customer.currency, (values or {}).get("package"))
    packages: list[Package] = aggregates_of(ledger, picked.rows, "package_id")
    assigned = {str(a.package_id) for a in customer.assignments.values()}
    names = {p.id: p.terms.name for p in found.aggregates(sorted(assigned))}
    settings_values = {
        **{name: str(getattr(profile, name) or "") for name in TEXT_SETTINGS},
        "tax_rate": plain(profile.tax_rate),
        "payment_terms_days": str(profile.payment_terms_days),
        "invoice_line_grouping": profile.invoice_line_grouping or "",
        "minimum_spend": plain(profile.minimum_spend) if profile.minimum_spend else "",
        "minimum_invoice_amount": "" if (m := profile.minimum_invoice_amount) is None else plain(m),
        "tiers": "\n".join(price_text(price) for price in profile.usage_prices),
        "tax_treatment": profile.tax_treatment.value,
        "effective_from": today.isoformat(),
        **_address_values(profile.address),
        **_credit_values(profile),
        "reminder_offsets": schedule_text(profile.reminder_offsets),
    }
    assign_values = {"start_date": today.isoformat()}
    if form == "settings":
        settings_values = {**settings_values, **(values or {})}
    elif form == "assign":
        assign_values = {**assign_values, **(values or {})}
    monthly = reports.monthly(found, customer_id, today)
    return render(
        request,
        "customer.html",
        {
            "customer": customer,
            "profile": profile,
            "today": today,
            "scheduled": [(when, after) for when, after in customer.changes if when > today],
            "assignments": [
                (a, names.get(a.package_id, str(a.package_id)))
                for a in customer.assignments.values()
            ],
            "packages": packages,
            "package_picker": picked,
            "invoices": shown_invoices(invoices.items, today),
            "invoices_next": next_url(f"{PREFIX}/invoices", account, invoices),
            "payments": payments,
            "payments_next": next_url(f"{PREFIX}/payments", account, paid),
            "balances": found.balances(customer_id=customer_id, limit=MAX_LIMIT).items,
            "aged": reports.aged(found, today, customer_id=customer_id, limit=MAX_LIMIT).items,
            "buckets": BUCKETS,
            "charts": [chart(currency, figures) for currency, figures in monthly.items()],
            "groupings": GROUPINGS,
            "credit_choices": CREDIT_CHOICES,
            "treatments": TREATMENTS,
            "settings_values": settings_values,
            "assign_values": assign_values,
            "form": form,
            "errors": errors or {},
        },
        status,
    )


@router.get("/customers/{ref}")
def show_customer(ref: str, request: Request, portal: PortalDep, session: Viewer) -> Response:
    del session
    return customer_page(request, portal, ref)


@router.post("/customers/{ref}/settings")
def change_settings(
    ref: str, request: Request, portal: PortalDep, session: Editor, form: FormValues
) -> Response:
    ledger: Ledger = portal.services.ledger
    customer = ledger.customer(ref)
    fields = Fields(form)
    changes = _profile_changes(fields, customer.currency)
    effective = fields.day("effective_from", "effective date") or ledger.today()
    reason = fields.text("reason") or None
    fields.submit(
        lambda: ledger.change_customer(
            customer.id, _with_tiers(changes), actor_of(session), effective, reason
        )
    )
    if fields.ok:
        when = "" if effective <= ledger.today() else f" (from {effective})"
        return done(url_of(customer), f"Details saved{when}.")
    return customer_page(request, portal, ref, form="settings", fields=fields, status=422)


#: the settings form's choice of applying credit automatically (docs/money.md)
CREDIT_CHOICES = [("no", "No: allocate credit by hand"), ("yes", "Yes: as each invoice is issued")]


def _credit_values(profile: CustomerProfile) -> dict[str, str]:
    threshold = profile.low_balance_threshold
    return {
        "auto_apply_credit": "yes" if profile.auto_apply_credit else "no",
        "low_balance_threshold": "" if threshold is None else str(threshold.amount),
    }


def _profile_changes(fields: Fields, currency: str) -> dict[str, Any]:
    """The settings form: every setting it shows, as the change-set's fields."""
    changes: dict[str, Any] = {name: fields.text(name) for name in TEXT_SETTINGS}
    changes["name"] = fields.text("name", required="the customer name")
    changes["time_zone"] = changes["time_zone"] or "UTC"
    changes["tax_rate"] = fields.amount("tax_rate", "tax rate", required=True)
    changes["payment_terms_days"] = fields.whole("payment_terms_days", "payment terms")
    fields.require(
        "payment_terms_days", changes["payment_terms_days"], "payment terms are required"
    )
    changes["invoice_line_grouping"] = fields.text("invoice_line_grouping") or None
    changes["tax_treatment"] = fields.text("tax_treatment") or TaxTreatment.STANDARD.value
    changes["address"] = _address_of(fields)
    changes["minimum_spend"] = fields.amount("minimum_spend", "minimum spend") or Decimal(0)
    changes["minimum_invoice_amount"] = fields.amount(
        "minimum_invoice_amount", "minimum invoice amount"
    )
    changes["usage_prices"] = fields.text("tiers")  # parsed with the change (its errors too)
    changes["reminder_offsets"] = fields.text("reminder_offsets")  # as the tiers
    changes["auto_apply_credit"] = fields.text("auto_apply_credit") == "yes"
    threshold = fields.amount("low_balance_threshold", "low balance threshold")
    changes["low_balance_threshold"] = (
        None if threshold is None else {"amount": threshold, "currency": currency}
    )
    return changes


def _with_tiers(changes: dict[str, Any]) -> CustomerChanges:
    """The change-set, the tiers text parsed (one destination a line; its refusals name
    ``tiers``, the form's field) and the reminder days (``-7, 0, 7``; ``none``)."""
    lines = [line for line in changes["usage_prices"].splitlines() if line.strip()]
    prices = tuple(parse_price(line) for line in lines)
    reminders = parse_offsets(changes["reminder_offsets"])
    return CustomerChanges.model_validate(
        {**changes, "usage_prices": prices, "reminder_offsets": reminders}
    )


@router.post("/customers/{ref}/packages")
def assign_package(
    ref: str, request: Request, portal: PortalDep, session: Editor, form: FormValues
) -> Response:
    ledger: Ledger = portal.services.ledger
    customer = ledger.customer(ref)
    fields = Fields(form)
    package = fields.text("package", required="a package")
    given: dict[str, Any] = {  # the start date is there when the form parsed
        "quantity": fields.amount("quantity", "quantity"),
        "start_date": fields.day("start_date", "start date", required=True),
        "end_date": fields.day("end_date", "end date"),
    }
    fields.submit(lambda: ledger.assign_package(customer.id, package, actor_of(session), **given))
    if fields.ok:
        return done(url_of(customer), f"Package {package} assigned.")
    return customer_page(request, portal, ref, form="assign", fields=fields, status=422)


@router.post("/customers/{ref}/packages/{assignment_id}/end")
def end_assignment(
    ref: str,
    assignment_id: UUID,
    request: Request,
    portal: PortalDep,
    session: Editor,
    form: FormValues,
) -> Response:
    ledger: Ledger = portal.services.ledger
    customer = ledger.customer(ref)
    fields = Fields(form, shown=())  # the End button's form shows one message, by the table
    end = cast(date, fields.day("end_date", "end date", required=True))  # there if it parsed
    fields.submit(lambda: ledger.end_assignment(customer.id, assignment_id, end, actor_of(session)))
    if fields.ok:
        return done(url_of(customer), "Package assignment ended.")
    form_name = f"end-{assignment_id}"
    return customer_page(request, portal, ref, form=form_name, fields=fields, status=422)
