"""The customer forms' structured address: one textarea line per address line, then city,
region, postal code and country; refusals shown beside the field (SQLite: storage-independent)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import event_count
from tests.portal.support import Browser, acme, error_of

pytestmark = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)

FORM = {
    "name": "Acme Telecom",
    "tax_rate": "20",
    "tax_description": "VAT 20%",
    "payment_terms_days": "14",
    "time_zone": "UTC",
}
ADDRESS = {
    "address_lines": "Bahnhofstrasse 1\r\nc/o Büro 4\r\n",
    "city": "Zürich",
    "region": "ZH",
    "postal_code": "8001",
    "country": "ch",
}


def test_a_structured_address_is_registered_shown_changed_and_removed(
    finance: Browser, ledger: Any
) -> None:
    new = {**FORM, "account_number": "ZRH", "currency": "CHF", **ADDRESS}
    assert "Customer ZRH registered." in finance.follow(finance.post("/portal/customers", new)).text
    address = ledger.customer("ZRH").latest.address
    assert (address.lines, address.city, address.country) == (
        ("Bahnhofstrasse 1", "c/o Büro 4"),
        "Zürich",
        "CH",
    )
    page = finance.get("/portal/customers/ZRH").text
    assert ">Bahnhofstrasse 1\nc/o Büro 4</textarea>" in page
    assert 'name="country" type="text" value="CH"' in page

    changed = {**FORM, **ADDRESS, "region": "", "address_lines": "Europaallee 1"}
    finance.follow(finance.post("/portal/customers/ZRH/settings", changed))
    address = ledger.customer("ZRH").latest.address
    assert (address.lines, address.region, address.city) == (("Europaallee 1",), "", "Zürich")

    cleared = {**FORM, "address_lines": "", "city": "", "region": "", "postal_code": ""}
    finance.follow(finance.post("/portal/customers/ZRH/settings", {**cleared, "country": ""}))
    assert ledger.customer("ZRH").latest.address is None


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"address_lines": "1\n2\n3\n4\n5"}, "s-address_lines", "at most 4 address lines"),
        ({"address_lines": "x" * 101}, "s-address_lines", "address line 1 must be at most 100"),
        ({"city": "c" * 101}, "s-city", "city must be at most 100"),
        ({"region": "\x1b[31m"}, "s-region", "region must not contain"),
        ({"postal_code": "8001<b>"}, "s-postal_code", "letters, digits"),
        ({"country": "UK"}, "s-country", "iso 3166-1 alpha-2"),
        ({"address_lines": "", "city": "Zürich"}, "s-address_lines", "at least one address"),
    ],
)
def test_a_refused_address_is_shown_beside_its_field_and_writes_nothing(
    finance: Browser, ledger: Any, change: dict[str, str], field: str, words: str
) -> None:
    acme(ledger)
    before = event_count(ledger)

    response = finance.post("/portal/customers/ACME/settings", {**FORM, **ADDRESS, **change})

    assert response.status_code == 422
    assert words in error_of(response.text, field), response.text[-3000:]
    assert event_count(ledger) == before
