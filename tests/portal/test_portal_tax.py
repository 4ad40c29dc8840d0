"""Tax in the portal: a customer's treatment set and shown, a line's tax description edited
and following its rate, the tax summary captioned for the rounding mode, and the wording on an
issued invoice."""

from __future__ import annotations

import html
from decimal import Decimal
from typing import Any

import pytest

from domain.changes import SettingsChanges
from domain.errors import NotFound
from tests.portal.support import Browser, acme, error_of, signed_in, value_of


def _draft(finance: Browser, account: str) -> str:
    response = finance.post("/portal/invoices", {"customer": account})
    assert response.status_code == 303, response.text
    return str(response.headers["location"])


def test_a_customer_registered_reverse_charge_gets_the_wording_on_its_invoice(
    finance: Browser, ledger: Any
) -> None:
    form = {
        "account_number": "BETA",
        "name": "Beta GmbH",
        "currency": "EUR",
        "tax_rate": "20",
        "tax_treatment": "reverse_charge",
        "payment_terms_days": "30",
    }
    refused = finance.post("/portal/customers", form)
    assert refused.status_code == 422
    assert "carry 0% tax" in error_of(refused.text, "tax_rate")
    with pytest.raises(NotFound):  # nothing registered
        ledger.customer("BETA")
    page = finance.follow(finance.post("/portal/customers", {**form, "tax_rate": "0"})).text
    assert "Reverse charge: customer to account for VAT to HMRC" in html.unescape(page)
    url = _draft(finance, "BETA")
    finance.follow(finance.post(url + "/lines", {"description": "Trunk", "unit_price": "99"}))
    page = html.unescape(finance.follow(finance.post(url + "/issue")).text)
    assert 'id="tax-treatment">Reverse charge: customer to account for VAT' in page
    assert ledger.invoice(url.rsplit("/", 1)[1]).billing.tax_treatment == "reverse_charge"


def test_the_settings_form_changes_the_treatment(finance: Browser, ledger: Any) -> None:
    acme(ledger)
    page = finance.get("/portal/customers/ACME").text
    assert 'value="standard" selected' in page
    form = {
        "name": "ACME Telecom",
        "tax_rate": "0",
        "tax_description": "",
        "tax_treatment": "exempt",
        "payment_terms_days": "30",
        "effective_from": "2026-10-01",
    }
    finance.follow(finance.post("/portal/customers/ACME/settings", form))
    profile = ledger.customer("ACME").latest
    assert (profile.tax_treatment, profile.tax_rate) == ("exempt", Decimal(0))


def test_a_line_tax_description_follows_its_rate_and_the_summary_says_how(
    finance: Browser, ledger: Any
) -> None:
    acme(ledger)
    ledger.change_settings(SettingsChanges(tax_rounding="per_invoice_rate"), "setup")
    url = _draft(finance, "ACME")
    for price in ("100.03", "100.03", "66.94"):
        finance.follow(finance.post(url + "/lines", {"description": "Calls", "unit_price": price}))
    finance.follow(
        finance.post(
            url + "/lines",
            {"description": "Fee", "unit_price": "10", "tax_rate": "0", "tax_description": ""},
        )
    )
    lines = list(ledger.invoice(url.rsplit("/", 1)[1]).lines.values())
    assert lines[3].tax_description == "VAT 0%"
    page = finance.get(url, edit=str(lines[0].line_id)).text
    assert value_of(page, "edit-tax_description") == "VAT 20%"
    # the form sends the description back as it was, with a new rate: it follows the rate
    edit = {
        "description": "Calls",
        "quantity": "1",
        "unit_price": "100.03",
        "tax_rate": "5",
        "tax_description": "VAT 20%",
    }
    finance.follow(finance.post(f"{url}/lines/{lines[0].line_id}", edit))
    assert ledger.invoice(url.rsplit("/", 1)[1]).lines[lines[0].line_id].tax_description == (
        "VAT 5%"
    )
    finance.follow(finance.post(f"{url}/lines/{lines[0].line_id}", {**edit, "tax_rate": "20"}))
    page = html.unescape(finance.get(url).text)
    assert 'Tax 20% × 267.00</th><td class="num">53.40' in page
    assert "sum of line taxes" not in page


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)  # a form, not storage
def test_admins_choose_the_tax_rounding_mode_on_the_settings_page(
    app: Any, portal: Any, ledger: Any
) -> None:
    for admin in signed_in(app, "adam"):
        page = admin.get("/portal/settings").text
        assert '<option value="per_line" selected>' in page
        form = {"company_name": "Northwind Voice Ltd", "country": "gb"}
        for hostile in ("per_decade", "PER_LINE", "per_line\x00", "per_line " * 1000, "١"):
            bad = admin.post("/portal/settings", {**form, "tax_rounding": hostile})
            assert bad.status_code == 422, hostile
            assert "tax rounding must be one of per_line, per_invoice_rate" in error_of(
                bad.text, "tax_rounding"
            )
        assert ledger.settings().tax_rounding == "per_line"
        saved = admin.follow(
            admin.post("/portal/settings", {**form, "tax_rounding": "per_invoice_rate"})
        ).text
        assert '<option value="per_invoice_rate" selected>' in saved
        # a post of the page without the list (an older form) leaves the mode as it is
        admin.follow(admin.post("/portal/settings", form))
    settings = ledger.settings()
    assert (settings.tax_rounding, settings.country) == ("per_invoice_rate", "GB")
