"""Hostile low balance thresholds and credit settings: negative, huge, finer than the
currency, in another currency, not money at all. Each is refused with its code and field
(CLI: exit 2 and one line on stderr; HTTP: a 4xx problem naming the field) and writes nothing."""

from __future__ import annotations

import pytest

from tests.e2e.test_usage_cli import run
from tests.helpers import event_count
from tests.service.conftest import (  # noqa: F401  (the HTTP fixtures, on the test's store)
    Api,
    client,
    keys,
    make_customer,
    services,
)

CASES = [
    # (CLI text, HTTP body's threshold, status, code, words of the message)
    ("-1", {"amount": "-1", "currency": "GBP"}, 422, "invalid_input", "must not be negative"),
    (
        "10000000000000",
        {"amount": "10000000000000", "currency": "GBP"},
        422,
        "out_of_range",
        "must be less than",
    ),
    ("0.001", {"amount": "0.001", "currency": "GBP"}, 422, "invalid_amount", "than GBP allows"),
    ("50 EUR", {"amount": "50", "currency": "EUR"}, 409, "currency_mismatch", "billed in GBP"),
]


@pytest.fixture
def http(request, store_url):
    """(a client with a write key, the service's ledger)."""
    api = Api(request.getfixturevalue("client"), request.getfixturevalue("keys")["write"])
    return api, request.getfixturevalue("services").ledger


@pytest.fixture
def db_url(make_ledger, store_url, capsys):
    assert (
        run(
            capsys, "--db", store_url, "customer", "add", "ACME", "--name", "A", "--currency", "GBP"
        )[0]
        == 0
    )
    return store_url


@pytest.mark.parametrize(("text", "body", "status", "code", "words"), CASES)
def test_the_cli_refuses_a_bad_threshold(
    db_url, make_ledger, capsys, text, body, status, code, words
):
    before = event_count(make_ledger())
    exit_code, _, err = run(
        capsys, "--db", db_url, "customer", "update", "ACME", "--low-balance-threshold", text
    )
    assert exit_code in (1, 2), err
    assert f"[{code}]" in err and words in err
    assert event_count(make_ledger()) == before


@pytest.mark.parametrize("text", ["fifty", "50 GBP extra", "1e3", "NaN", "50 G"])
def test_the_cli_refuses_what_is_not_an_amount(db_url, make_ledger, capsys, text):
    before = event_count(make_ledger())
    exit_code, _, err = run(
        capsys, "--db", db_url, "customer", "update", "ACME", "--low-balance-threshold", text
    )
    assert exit_code == 2, err
    assert len(err.strip().splitlines()) == 1 and err.rstrip().endswith("]"), err
    assert "threshold" in err or "currency" in err, err
    assert event_count(make_ledger()) == before


@pytest.mark.parametrize(("text", "body", "status", "code", "words"), CASES)
def test_http_refuses_a_bad_threshold_with_a_problem_naming_the_field(
    http, text, body, status, code, words
):
    writer, ledger = http
    make_customer(writer)
    before = event_count(ledger)
    response = writer.patch("/customers/ACME", {"low_balance_threshold": body})
    assert response.status_code == status, response.text
    problem = response.json()
    assert response.headers["content-type"].startswith("application/problem+json")
    assert problem["code"] == code and words in problem["detail"]
    assert problem.get("field") == "low_balance_threshold"
    assert event_count(ledger) == before


@pytest.mark.parametrize(
    "body",
    [
        {"low_balance_threshold": "50.00"},  # money is an amount and a currency
        {"low_balance_threshold": {"amount": 50.5, "currency": "GBP"}},  # never a float
        {"low_balance_threshold": {"amount": "50", "currency": "GBP", "extra": 1}},
        {"auto_apply_credit": "sometimes"},
    ],
)
def test_http_refuses_a_malformed_credit_setting(http, body):
    writer, ledger = http
    make_customer(writer)
    before = event_count(ledger)
    response = writer.patch("/customers/ACME", body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert event_count(ledger) == before
