"""Hostile input to issue #19's new commands: a new due date and the seller's details, on the
CLI and over HTTP. Each refusal names its problem (exit code and message, or status, problem
code and field) and nothing is written."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from adapters.app.context import Services
from adapters.clock import SteppingClock
from adapters.logging import configure_logging
from adapters.service.app import create_app
from tests.e2e.test_cli_documents import issue_acme
from tests.helpers import event_count

DUE_DATE_CLI = [
    (["2026-12-31"], 2, "Missing option '--reason'"),
    (["2026-12-31", "--reason", ""], 2, "needs a reason"),
    (["31/12/2026", "--reason", "x"], 2, "date"),
    (["٢٠٢٦-١٢-٣١", "--reason", "x"], 2, "date"),
    (["2026-10-01", "--reason", "x"], 2, "before invoice date"),
    (["2100-01-01", "--reason", "x"], 2, "out_of_range"),
    (["2026-12-31", "--reason", "x\x1b[2J"], 2, "invalid_characters"),
    (["2026-12-31", "--reason", "x\u202e"], 2, "invalid_characters"),
    (["2026-12-31", "--reason", "x" * 1001], 2, "text_too_long"),
]

SETTINGS_CLI = [
    ("iban=GB29NWBK60161331926818", "check digits are wrong"),
    ("iban=XX29NWBK60161331926819", "country code"),
    ("iban=GB29NWBK6016133192681９", "IBAN must be"),  # a full-width digit
    ("iban=" + "GB29" * 20, "text_too_long"),
    ("bic=NWBK", "BIC must be"),
    ("bic=NWBKXX2L", "not an ISO 3166 code"),
    ("bic=NWBKGB2L", "needs the IBAN"),
    ("sort_code=12345", "sort code must be 6 digits"),
    ("sort_code=601613", "both its sort code and its 8-digit account number"),
    ("bank_account_number=1234567X", "8 digits"),
    ("bank_account_number=123456789", "text_too_long"),
    ("contact_email=not-an-address", "e-mail must look like"),
    ("contact_phone=call me", "phone must be digits"),
    ("contact_phone=+44\n20", "invalid_characters"),
    ("registration_number=" + "9" * 51, "at most 50 characters"),
    ("registration_number=01\t23", "invalid_characters"),
]


@pytest.fixture
def acme(ledger: Any) -> str:
    return issue_acme(ledger)


def test_hostile_due_dates_and_seller_details_on_the_cli_fail_clearly_and_write_nothing(
    ledger: Any, tollbook: Any, acme: str
) -> None:
    before = event_count(ledger)
    for args, code, words in DUE_DATE_CLI:
        result = tollbook("invoice", "due-date", acme, *args)
        assert result.code == code, (args, result.err)
        assert words in result.err, (args, result.err)
        assert len(result.err.splitlines()) == 1 and "\x1b" not in result.err
    for assignment, words in SETTINGS_CLI:
        result = tollbook("settings", "set", assignment)
        assert result.code == 2, (assignment, result.err)
        assert words in result.err, (assignment, result.err)
    # half a UK account given alongside a good IBAN: nothing of the change is kept
    mixed = tollbook("settings", "set", "iban=GB29NWBK60161331926819", "sort_code=601613")
    assert mixed.code == 2 and "account number" in mixed.err
    assert event_count(ledger) == before
    assert ledger.settings().iban == ""


@pytest.fixture
def api(store_url: str, clock: SteppingClock) -> Iterator[tuple[Services, TestClient, str]]:
    configure_logging(level="critical")
    services = Services.from_url(store_url, clock=clock)
    key = services.api_keys.create("hostile", "admin")
    with TestClient(create_app(services), raise_server_exceptions=True) as client:
        yield services, client, key
    services.close()


HTTP_CASES: list[tuple[str, str, Any, int, str, str | None]] = [
    ("POST", "/invoices/{ref}/due-date", {"due_date": "2026-12-31"}, 422, "validation_error", None),
    ("POST", "/invoices/{ref}/due-date", {"reason": "x"}, 422, "validation_error", None),
    (
        "POST",
        "/invoices/{ref}/due-date",
        {"due_date": 1767139200, "reason": "x"},
        422,
        "validation_error",
        None,
    ),
    (
        "POST",
        "/invoices/{ref}/due-date",
        {"due_date": "9999-12-31", "reason": "x"},
        422,
        "validation_error",
        None,
    ),
    (
        "POST",
        "/invoices/{ref}/due-date",
        {"due_date": "2026-12-31", "reason": "   "},
        422,
        "invalid_input",
        "reason",
    ),
    (
        "POST",
        "/invoices/{ref}/due-date",
        {"due_date": "2026-12-31", "reason": "x\x00"},
        422,
        "invalid_characters",
        None,
    ),
    (
        "POST",
        "/invoices/{ref}/due-date",
        {"due_date": "2026-12-31", "reason": "x", "extra": 1},
        422,
        "validation_error",
        None,
    ),
    ("PATCH", "/settings", {"iban": "GB29NWBK60161331926818"}, 422, "invalid_bank_details", "iban"),
    ("PATCH", "/settings", {"iban": 29}, 422, "validation_error", None),
    ("PATCH", "/settings", {"bic": "NWBKGB2L"}, 422, "invalid_bank_details", "iban"),
    ("PATCH", "/settings", {"sort_code": "1234567"}, 422, "invalid_bank_details", "sort_code"),
    (
        "PATCH",
        "/settings",
        {"sort_code": "601613"},
        422,
        "invalid_bank_details",
        "bank_account_number",
    ),
    ("PATCH", "/settings", {"contact_email": "@"}, 422, "invalid_input", "contact_email"),
    ("PATCH", "/settings", {"contact_phone": "x" * 31}, 422, "text_too_long", None),
]


def test_hostile_http_requests_get_a_problem_with_its_code_and_write_nothing(
    api: tuple[Services, TestClient, str], acme_http: str
) -> None:
    services, client, key = api
    before = event_count(services.ledger)
    for method, path, body, status, code, field in HTTP_CASES:
        response = client.request(
            method,
            path.format(ref=acme_http),
            json=body,
            headers={"Authorization": f"Bearer {key}"},
        )
        assert response.status_code == status, (path, body, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        assert problem["code"] == code, (body, problem)
        if field is not None:
            assert problem["field"] == field, (body, problem)
    assert event_count(services.ledger) == before


@pytest.fixture
def acme_http(api: tuple[Services, TestClient, str]) -> str:
    return issue_acme(api[0].ledger)
