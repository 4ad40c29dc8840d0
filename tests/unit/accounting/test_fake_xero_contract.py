"""The fake Xero refuses what the official xero-python SDK's models refuse, over real HTTP.

Without this, the fake could accept any shape our exporter happens to send and the export
tests would prove nothing about Xero.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.fakes.xero import API_PREFIX, FakeXero
from tests.fakes.xero_contract import OPENAPI_ENV, openapi_document_path, sdk_violations

GOOD_INVOICE = {
    "Type": "ACCREC",
    "Contact": {"ContactID": "00000000-0000-4000-8000-000000000001"},
    "LineItems": [
        {
            "Description": "Calls",
            "Quantity": 2,
            "UnitAmount": 1.5,  # the SDK sends numbers as JSON numbers
            "AccountCode": "200",
            "TaxType": "OUTPUT2",
        }
    ],
    "Status": "AUTHORISED",
    "LineAmountTypes": "Exclusive",
    "Date": "/Date(1793404800000+0000)/",  # as the SDK serialises a date
    "DueDate": "/Date(1794614400000+0000)/",
    "InvoiceNumber": "INV-2026-000001",
}


@pytest.fixture
def xero() -> Iterator[tuple[FakeXero, httpx.Client]]:
    fake = FakeXero().start()
    settings = fake.connection_settings()
    token = httpx.post(
        settings["token_url"],
        data={
            "grant_type": "client_credentials",
            "client_id": FakeXero.CLIENT_ID,
            "client_secret": FakeXero.CLIENT_SECRET,
        },
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}", "Xero-Tenant-Id": FakeXero.TENANT}
    with httpx.Client(base_url=fake.url + API_PREFIX, headers=headers) as client:
        yield fake, client
    fake.stop()


def _put_invoice(client: httpx.Client, invoice: dict[str, Any]) -> httpx.Response:
    return client.put("/Invoices", content=json.dumps({"Invoices": [invoice]}))


def test_a_body_the_sdk_models_accept_is_booked(xero):
    fake, client = xero
    fake.contacts["00000000-0000-4000-8000-000000000001"] = {
        "ContactID": "00000000-0000-4000-8000-000000000001",
        "Name": "Acme",
    }
    assert sdk_violations("Invoices", {"Invoices": [GOOD_INVOICE]}) == ""
    response = _put_invoice(client, GOOD_INVOICE)
    assert response.status_code == 200, response.text
    assert fake.spec_violations == []


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"Status": "PAID_IN_FULL"}, "PAID_IN_FULL"),  # not one of Xero's invoice statuses
        ({"LineAmountTypes": "Gross"}, "Gross"),  # not Exclusive/Inclusive/NoTax
        ({"Type": "SALE"}, "SALE"),
        ({"InvoiceTotal": "10.00"}, "InvoiceTotal: not a field"),  # a typo of Total
        ({"LineItems": {"Description": "x"}}, "expected a list"),
        ({"LineItems": [{"Description": "x", "Qty": "1"}]}, "Qty: not a field"),
        ({"LineItems": [{"Description": "x", "Quantity": "many"}]}, "ConversionSyntax"),
        ({"Contact": "Acme"}, "expected an object"),
    ],
)
def test_a_body_the_sdk_models_refuse_gets_xeros_validation_error(xero, change, complaint):
    fake, client = xero
    response = _put_invoice(client, {**GOOD_INVOICE, **change})
    assert response.status_code == 400
    assert response.json()["Type"] == "ValidationException"
    [violation] = fake.spec_violations
    assert complaint in violation
    assert fake.invoices == {}


def test_the_openapi_document_is_optional_but_never_silently_missing(monkeypatch, tmp_path):
    monkeypatch.delenv(OPENAPI_ENV, raising=False)
    assert openapi_document_path() is None
    monkeypatch.setenv(OPENAPI_ENV, str(tmp_path / "absent.yaml"))
    with pytest.raises(FileNotFoundError, match=OPENAPI_ENV):
        openapi_document_path()
