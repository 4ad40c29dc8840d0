"""Hostile pricing input: discounts, tiers, minimums. Each refusal is specific (CLI exit 2
and the message; HTTP 422 problem+json with its code) and writes no event."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from adapters.app.context import Services
from adapters.clock import SteppingClock
from adapters.config import build_ledger
from adapters.ledger.application import Ledger
from tests.helpers import event_count
from tests.portal.support import acme
from tests.service.conftest import (  # noqa: F401  (fixtures: the API on the test's store)
    Api,
    client,
    keys,
    services,
)

OUT, INPUT, FLOAT = "out_of_range", "invalid_input", "validation_error"
UPDATE = ["customer", "update", "ACME"]


def _many_tiers() -> str:
    return ",".join(f"{n}-{n + 1}:0.01" for n in range(25)) + ",25-:0.01"


CLI_CASES: list[tuple[str, list[str], str]] = [
    ("percent-over-100", ["--percent", "100.5"], "at most 100, got 100.5"),
    ("percent-zero", ["--percent", "0"], "above 0 and at most 100"),
    ("percent-negative", ["--percent", "-10"], "above 0 and at most 100"),
    ("percent-exponent", ["--percent", "1e2"], "plain decimal number"),
    ("percent-five-decimals", ["--percent", "10.00001"], "more than 4 decimal places"),
    ("amount-negative", ["--amount", "-5"], "greater than zero"),
    ("amount-huge", ["--amount", "9" * 30], "less than 10,000,000,000,000"),
    ("amount-sub-penny", ["--amount", "0.001"], "more decimals than GBP allows"),
    ("amount-over-the-line", ["--amount", "100.01", "--line", "1"], "more than the 100.00 GBP"),
    ("amount-over-the-invoice", ["--amount", "150.01"], "more than the 150.00 GBP"),
    ("both", ["--percent", "5", "--amount", "1"], "exactly one of a percentage or an amount"),
    ("neither", [], "exactly one of a percentage or an amount"),
    ("unknown-line", ["--percent", "5", "--line", "zz"], "has no line 'zz'"),
    ("text-nul", ["--percent", "5", "--description", "a\x00b"], "must not contain"),
    ("text-long", ["--percent", "5", "--description", "d" * 501], "at most 500 characters"),
]

TIER_CASES: list[tuple[str, list[str], str]] = [
    ("tiers-gap", ["--tiers", "UK=graduated:0-100:0.01,150-:0.005"], "a gap"),
    ("tiers-overlap", ["--tiers", "UK=graduated:0-100:0.01,50-:0.005"], "an overlap"),
    ("tiers-unsorted", ["--tiers", "UK=volume:100-:0.005,0-100:0.01"], "tier 1 starts at 100"),
    ("tiers-not-from-0", ["--tiers", "UK=volume:10-:0.01"], "not 0: a gap"),
    ("tiers-closed", ["--tiers", "UK=graduated:0-100:0.01"], "last tier is open-ended"),
    ("tiers-open-middle", ["--tiers", "UK=graduated:0-:0.01,0-:0.02"], "only the last tier"),
    ("tiers-backwards", ["--tiers", "UK=graduated:0-0:0.01,0-:0.02"], "where or before"),
    ("tiers-negative-rate", ["--tiers", "UK=volume:0-:-0.01"], "must not be negative"),
    ("tiers-huge-rate", ["--tiers", "UK=volume:0-:" + "9" * 30], "less than"),
    ("tiers-huge-bound", ["--tiers", "UK=volume:0-9999999999:0.1,9999999999-:0"], "at most"),
    ("tiers-mode", ["--tiers", "UK=stepped:0-:0.01"], "DESTINATION=graduated|volume"),
    ("tiers-shape", ["--tiers", "UK=volume:0:0.01"], "FROM-TO:RATE or FROM-:RATE"),
    ("tiers-exponent", ["--tiers", "UK=volume:0-:1e-3"], "plain decimal number"),
    ("tiers-many", ["--tiers", "UK=graduated:" + _many_tiers()], "at most 20"),
    ("tiers-twice", ["--tiers", "UK=volume:0-:0.1", "--tiers", "UK=volume:0-:0.2"], "twice"),
    ("tiers-no-name", ["--tiers", "=volume:0-:0.1"], "needs a destination"),
    ("tiers-long-name", ["--tiers", "D" * 101 + "=volume:0-:0.1"], "at most 100 characters"),
    ("tiers-huge-text", ["--tiers", "x" * 5000], "at most 4,000 characters"),
    ("minimum-negative", ["--minimum-spend", "-1"], "must not be negative"),
    ("minimum-sub-penny", ["--minimum-spend", "0.001"], "more decimals than GBP"),
    ("minimum-huge", ["--minimum-invoice", "9" * 20], "less than"),
]


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    """SQLite only: every refusal here is the domain's, made before anything is written
    (the event count proves it); the pricing that is stored runs on both stores in
    tests/integration/test_billing_pricing.py. Half the time of ~90 parametrised cases."""
    return f"sqlite:///{tmp_path}/tollbook.sqlite"


@pytest.fixture
def cli_ledger(store_url: str, clock: SteppingClock) -> Iterator[Ledger]:
    ledger = build_ledger(store_url, clock=clock)
    yield ledger
    ledger.close()


@pytest.fixture
def draft(tollbook: Callable[..., Any]) -> str:
    assert tollbook("customer", "add", "ACME", "--name", "Acme", "--tax-rate", "20").code == 0
    invoice: str = tollbook("invoice", "new", "ACME", "--json").json()["id"]
    for price in ("100.00", "50.00"):
        tollbook("invoice", "line", "add", invoice, "--description", "x", "--unit-price", price)
    return invoice


@pytest.mark.parametrize(
    ("argv", "words"), [pytest.param(argv, words, id=name) for name, argv, words in CLI_CASES]
)
def test_the_cli_refuses_bad_discounts(
    tollbook: Callable[..., Any], cli_ledger: Ledger, draft: str, argv: list[str], words: str
) -> None:
    before = event_count(cli_ledger)
    refused = tollbook("invoice", "discount", "add", draft, *argv)
    expected = 3 if words.startswith("has no line") else 2
    assert refused.code == expected, refused.err
    assert words in refused.err and refused.err.count("\n") == 1
    assert event_count(cli_ledger) == before


@pytest.mark.parametrize(
    ("argv", "words"), [pytest.param(argv, words, id=name) for name, argv, words in TIER_CASES]
)
def test_the_cli_refuses_bad_tiers_and_minimums(
    tollbook: Callable[..., Any], cli_ledger: Ledger, argv: list[str], words: str
) -> None:
    assert tollbook("customer", "add", "ACME", "--name", "Acme").code == 0
    before = event_count(cli_ledger)
    refused = tollbook(*UPDATE, *argv)
    assert refused.code == 2, refused.err
    assert words in refused.err and refused.err.count("\n") == 1, refused.err
    assert event_count(cli_ledger) == before


def test_the_cli_refuses_a_negative_package_minimum_and_setting(
    tollbook: Callable[..., Any], cli_ledger: Ledger
) -> None:
    before = event_count(cli_ledger)
    package = ["package", "add", "Trunk", "--price", "10", "--minimum-spend", "-0.01"]
    assert tollbook(*package).code == 2
    setting = tollbook("settings", "set", "minimum_invoice_amount=1e3")
    assert setting.code == 2 and "plain decimal number" in setting.err
    assert tollbook("settings", "set", "minimum_invoice_amount=-5").code == 2
    assert event_count(cli_ledger) == before


HTTP_CASES: list[tuple[str, str, dict[str, Any], str, str]] = [
    ("percent-101", "/invoices/INVOICE/discounts", {"percent": "101"}, OUT, "at most 100"),
    ("percent-float", "/invoices/INVOICE/discounts", {"percent": 5.5}, FLOAT, "not JSON numbers"),
    ("amount-over", "/invoices/INVOICE/discounts", {"amount": "1000"}, OUT, "more than"),
    ("both", "/invoices/INVOICE/discounts", {"percent": "1", "amount": "1"}, INPUT, "exactly"),
    (
        "tiers-gap",
        "/customers/ACME",
        {
            "usage_prices": [
                {
                    "destination": "UK",
                    "mode": "graduated",
                    "tiers": [
                        {"first": "0", "last": "100", "rate": "0.01"},
                        {"first": "200", "last": None, "rate": "0.005"},
                    ],
                }
            ]
        },
        "invalid_tiers",
        "a gap",
    ),
    ("minimum-negative", "/customers/ACME", {"minimum_spend": "-1"}, INPUT, "not be negative"),
]


@pytest.mark.parametrize(
    ("path", "body", "code", "words"), [pytest.param(*case[1:], id=case[0]) for case in HTTP_CASES]
)
def test_the_http_api_refuses_bad_pricing_input(
    client: TestClient,  # noqa: F811
    keys: dict[str, str],  # noqa: F811
    services: Services,  # noqa: F811
    path: str,
    body: dict[str, Any],
    code: str,
    words: str,
) -> None:
    from decimal import Decimal

    api = Api(client, keys["admin"])
    acme(services.ledger)
    draft = services.ledger.create_invoice("ACME", "setup")
    services.ledger.add_line(
        draft, "setup", description="Trunk", quantity=Decimal(1), unit_price=Decimal("120.00")
    )
    before = event_count(services.ledger)
    target = path.replace("INVOICE", str(draft))
    response = api.post(target, body) if "discounts" in path else api.patch(target, body)
    assert response.status_code == 422, response.text[:500]
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["code"] == code and words in problem["detail"], problem
    assert event_count(services.ledger) == before
