"""The seller's details page: what every invoice prints of the seller (company, registration
and tax numbers, contact, bank details, payment instructions), the seller's country and the
tax rounding mode (docs/money.md). Admins change them, as admin API keys do; everyone signed
in can read them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from adapters.app.users import Session
from adapters.portal.web import (
    PREFIX,
    Editor,
    Fields,
    FormValues,
    Portal,
    PortalDep,
    PortalRoute,
    Refused,
    Viewer,
    actor_of,
    done,
    render,
)
from domain.changes import SettingsChanges

router = APIRouter(prefix=PREFIX, route_class=PortalRoute, include_in_schema=False)

#: the settings this page shows and changes, in the order of the form
SELLER_FIELDS = (
    "company_name",
    "address",
    "tax_number",
    "registration_number",
    "contact_email",
    "contact_phone",
    "iban",
    "bic",
    "sort_code",
    "bank_account_number",
    "payment_instructions",
)
#: the seller's country (e-invoices need it) and the tax rounding mode: a post without them
#: (a form of an earlier version of the page) leaves them as they are
CHOSEN_FIELDS = ("country", "tax_rounding")
TAX_ROUNDING_CHOICES = (
    ("per_line", "Per line: each line's tax rounded, the rate's tax their sum"),
    ("per_invoice_rate", "Per invoice and rate: the rate's tax rounded once (EU VAT Directive)"),
)


def admin_session(session: Editor) -> Session:
    """Only admins change the seller's settings (the API asks for an admin key)."""
    if session.user.role != "admin":
        raise Refused(f"{session.user.username} is {session.user.role}: only admins change these")
    return session


Admin = Annotated[Session, Depends(admin_session)]


def _page(request: Request, portal: Portal, fields: Fields | None = None) -> Response:
    current = portal.services.ledger.settings().model_dump(mode="json")
    shown = (*SELLER_FIELDS, *CHOSEN_FIELDS)
    values = fields.values if fields else {name: current[name] for name in shown}
    return render(
        request,
        "settings.html",
        {
            "values": values,
            "errors": fields.errors if fields else {},
            "tax_roundings": TAX_ROUNDING_CHOICES,
        },
        422 if fields else 200,
    )


@router.get("/settings")
def seller_settings(request: Request, portal: PortalDep, session: Viewer) -> Response:
    del session
    return _page(request, portal)


@router.post("/settings")
def change_seller_settings(
    request: Request, portal: PortalDep, session: Admin, form: FormValues
) -> Response:
    fields = Fields(form)
    changes = {
        name: fields.text(name, required="the company name" if name == "company_name" else None)
        for name in SELLER_FIELDS
    }
    for name in CHOSEN_FIELDS:
        if name in form:
            changes[name] = fields.text(name)
    if not changes.get("tax_rounding", "-"):
        del changes["tax_rounding"]  # no choice made: the mode stays
    ledger = portal.services.ledger
    fields.submit(
        lambda: ledger.change_settings(SettingsChanges.model_validate(changes), actor_of(session))
    )
    if fields.ok:
        return done(f"{PREFIX}/settings", "Seller details saved.")
    return _page(request, portal, fields)
