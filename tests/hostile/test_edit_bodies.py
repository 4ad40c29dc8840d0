"""Hostile edits over HTTP: ``null`` where it removes nothing, an edit with nothing in it, a
malformed If-Match. Each is a 4xx problem document naming what is wrong, and writes nothing
(a ``null`` due date once reached the invoice and failed there with a 500)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from adapters.app.context import Services
from adapters.clock import SteppingClock
from adapters.service.app import create_app
from tests.helpers import event_count


@pytest.fixture
def services(store_url: str, clock: SteppingClock) -> Iterator[Services]:
    built = Services.from_url(store_url, clock=clock)
    yield built
    built.close()


@pytest.fixture
def world(services: Services) -> Iterator[tuple[TestClient, dict[str, str], dict[str, str]]]:
    key = services.api_keys.create("clumsy", "admin")
    headers = {"Authorization": f"Bearer {key}"}
    with TestClient(create_app(services)) as client:
        for path, body in (
            ("/customers", {"account_number": "ACME", "name": "Acme"}),
            ("/packages", {"name": "Trunk", "unit_price": "10"}),
        ):
            client.post(path, json=body, headers=headers).raise_for_status()
        draft = client.post("/invoices", json={"customer": "ACME"}, headers=headers).json()
        line = client.post(
            f"/invoices/{draft['id']}/lines",
            json={"description": "Calls", "quantity": "1", "unit_price": "2"},
            headers=headers,
        ).json()
        yield client, headers, {"invoice": draft["id"], "line": line["line_id"]}


def _edits(ids: dict[str, str]) -> list[tuple[str, dict[str, Any], str]]:
    invoice, line = ids["invoice"], ids["line"]
    return [
        ("/settings", {"company_name": None}, "company_name"),
        ("/customers/ACME", {"email": None}, "email"),
        ("/customers/ACME", {"name": None, "address": None}, "name"),
        ("/packages/Trunk", {"unit_price": None}, "unit_price"),
        (f"/invoices/{invoice}/lines/{line}", {"quantity": None}, "quantity"),
        (f"/invoices/{invoice}/dates", {"due_date": None}, "due_date"),
        (f"/invoices/{invoice}/dates", {"invoice_date": None}, "invoice_date"),
    ]


def test_null_where_it_removes_nothing_is_refused_and_writes_nothing(world, services):
    client, headers, ids = world
    for path, body, field in _edits(ids):
        before = event_count(services.ledger)
        answer = client.patch(path, json=body, headers=headers)
        assert answer.status_code == 422, (path, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert answer.json()["code"] == "validation_error"
        assert field in answer.json()["detail"] and "null" in answer.json()["detail"]
        assert event_count(services.ledger) == before, path


@pytest.mark.parametrize(
    "body", [{}, {"effective_from": "2026-12-01"}, {"reason": "tidy up", "effective_from": None}]
)
def test_an_edit_with_nothing_to_change_is_refused(world, services, body):
    client, headers, _ = world
    before = event_count(services.ledger)
    answer = client.patch("/customers/ACME", json=body, headers=headers)
    assert answer.status_code == 422, answer.text
    assert event_count(services.ledger) == before


def test_null_that_removes_something_is_taken(world):
    client, headers, ids = world
    answer = client.patch(
        f"/invoices/{ids['invoice']}/dates", json={"period_start": None}, headers=headers
    )
    assert answer.status_code == 200, answer.text
    assert (
        client.patch("/packages/Trunk", json={"tax_rate": None}, headers=headers).status_code == 200
    )


@pytest.mark.parametrize("header", ["7", '"7', "W/7", '"7" "8"', '"7",', "**", '"é"'])
def test_a_malformed_if_match_is_a_400_and_writes_nothing(world, services, header):
    client, headers, ids = world
    before = event_count(services.ledger)
    answer = client.post(
        f"/invoices/{ids['invoice']}/issue",
        headers={**headers, "If-Match": header.encode("utf-8")},  # type: ignore[dict-item]
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["code"] == "invalid_if_match"
    assert event_count(services.ledger) == before


def test_a_well_formed_if_match_naming_another_version_is_a_412(world, services):
    client, headers, ids = world
    answer = client.post(
        f"/invoices/{ids['invoice']}/issue", headers={**headers, "If-Match": '"99", W/"98"'}
    )
    assert answer.status_code == 412, answer.text
    assert answer.json()["code"] == "version_mismatch"


def test_whole_json_numbers_are_integers(world):
    client, headers, _ = world
    answer = client.patch("/customers/ACME", json={"payment_terms_days": 14.0}, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["payment_terms_days"] == 14
    refused = client.patch("/customers/ACME", json={"payment_terms_days": 14.5}, headers=headers)
    assert refused.status_code == 422
