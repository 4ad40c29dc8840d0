"""Hostile tax inputs: tax descriptions, tax treatments, rounding modes and out-of-order dates
are refused with a specific code on the CLI and over HTTP, and nothing is written."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal as D
from typing import Any

import pytest

from adapters.app.context import Services
from adapters.logging import configure_logging
from adapters.webhooks.destinations import ALLOW_ENV
from tests.helpers import customer, event_count
from tests.hostile.test_http_errors import World, _world, assert_problem

RULE, INPUT = 1, 2
LONG = "V" * 101  # the tax description limit is 100 characters


@pytest.fixture
def cli_world(make_ledger):
    ledger = make_ledger()
    customer(ledger, "ACME", "GBP")
    ledger.register_customer(
        "t", account_number="BETA", name="Beta GmbH", tax_treatment="reverse_charge"
    )
    draft = ledger.create_invoice("ACME", "t")
    ledger.add_line(draft, "t", description="Calls", quantity=D(1), unit_price=D(5))
    beta = ledger.create_invoice("BETA", "t")
    return {"ledger": ledger, "draft": str(draft), "beta": str(beta), "long": LONG}


CLI_CASES: list[tuple[tuple[str, ...], int, str]] = [
    (
        ("invoice", "line", "edit", "{draft}", "1", "--tax-description", "{long}"),
        INPUT,
        "text_too_long",
    ),
    (
        ("invoice", "line", "edit", "{draft}", "1", "--tax-description", "VAT\n20%"),
        INPUT,
        "invalid_characters",
    ),
    (
        ("invoice", "line", "edit", "{draft}", "1", "--tax-description", "VAT \u202e02%"),
        INPUT,
        "invalid_characters",
    ),
    (
        (
            "invoice",
            "line",
            "add",
            "{draft}",
            "--description",
            "x",
            "--unit-price",
            "1",
            "--tax-description",
            "\x1b[31mVAT",
        ),
        INPUT,
        "invalid_characters",
    ),
    (
        ("customer", "update", "ACME", "--tax-treatment", "reverse charge"),
        INPUT,
        "unknown_tax_treatment",
    ),
    (
        ("customer", "update", "ACME", "--tax-treatment", "exempt", "--tax-rate", "20"),
        INPUT,
        "tax_rate_not_allowed",
    ),
    (
        (
            "customer",
            "add",
            "NEW",
            "--name",
            "N",
            "--tax-treatment",
            "zero_rated",
            "--tax-rate",
            "5",
        ),
        INPUT,
        "tax_rate_not_allowed",
    ),
    (
        (
            "invoice",
            "line",
            "add",
            "{beta}",
            "--description",
            "x",
            "--unit-price",
            "1",
            "--tax-rate",
            "19",
        ),
        INPUT,
        "tax_rate_not_allowed",
    ),
    (("settings", "set", "tax_rounding=per_rate"), INPUT, "invalid_input"),
    (("settings", "set", "tax_rounding="), INPUT, "invalid_input"),
]


def test_each_hostile_tax_command_line_is_refused_and_writes_nothing(tollbook, cli_world):
    # one world for every case (each refusal writes nothing, so the next sees the same)
    for args, exit_code, code in CLI_CASES:
        before = event_count(cli_world["ledger"])
        result = tollbook(*(arg.format(**cli_world) for arg in args))
        assert result.code == exit_code, (args, result.code, result.err)
        assert result.err.startswith("error: ") and result.err.endswith(f" [{code}]\n"), (
            args,
            result.err,
        )
        assert "\u202e" not in result.err and "\x1b" not in result.err
        assert event_count(cli_world["ledger"]) == before, args


def test_an_invoice_dated_before_the_latest_issued_is_refused_on_the_cli(
    tollbook, cli_world, clock
):
    ledger = cli_world["ledger"]
    newer = ledger.create_invoice("ACME", "t", invoice_date=date(2026, 10, 2))
    ledger.add_line(newer, "t", description="x", quantity=D(1), unit_price=D(1))
    ledger.issue_invoice(newer, "t")
    older = ledger.create_invoice("ACME", "t", invoice_date=date(2026, 9, 30))
    ledger.add_line(older, "t", description="x", quantity=D(1), unit_price=D(1))
    before = event_count(ledger)
    result = tollbook("invoice", "issue", str(older))
    assert result.code == RULE
    assert "2026-09-30" in result.err and result.err.endswith("[number_out_of_date_order]\n")
    assert event_count(ledger) == before


# ---------------------------------------------------------------- HTTP


@pytest.fixture
def http_world(store_url: str, clock: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    configure_logging(level="critical")
    monkeypatch.setenv(ALLOW_ENV, "127.0.0.1/32")  # the world's webhook names this machine
    built = Services.from_url(store_url, clock=clock)
    try:
        built.ledger.register_customer(
            "setup", account_number="BETA", name="Beta GmbH", tax_treatment="reverse_charge"
        )
        beta = built.ledger.create_invoice("BETA", "setup")
        for world in _world(built):
            world.ids["beta"] = str(beta)
            yield world
    finally:
        built.close()


V = (422, "validation_error")
HTTP_CASES: list[tuple[str, str, Any, tuple[int, str]]] = [
    (
        "POST",
        "/invoices/{draft}/lines",
        {"description": "x", "unit_price": "1", "tax_description": LONG},
        (422, "text_too_long"),
    ),
    (
        "PATCH",
        "/invoices/{draft}/lines/1",
        {"tax_description": "VAT\r\n20%"},
        (422, "invalid_characters"),
    ),
    (
        "PATCH",
        "/invoices/{draft}/lines/1",
        {"tax_description": "VAT \u2066x\u2069"},
        (422, "invalid_characters"),
    ),
    ("PATCH", "/invoices/{draft}/lines/1", {"tax_description": 20}, V),
    (
        "POST",
        "/invoices/{beta}/lines",
        {"description": "x", "unit_price": "1", "tax_rate": "20"},
        (422, "tax_rate_not_allowed"),
    ),
    ("PATCH", "/customers/ACME", {"tax_treatment": "REVERSE_CHARGE"}, V),
    (
        "PATCH",
        "/customers/ACME",
        {"tax_treatment": "exempt", "tax_rate": "20"},
        (422, "tax_rate_not_allowed"),
    ),
    (
        "POST",
        "/customers",
        {"account_number": "N1", "name": "N", "tax_treatment": "outside_scope", "tax_rate": "1"},
        (422, "tax_rate_not_allowed"),
    ),
    ("PATCH", "/settings", {"tax_rounding": "per_rate"}, V),
    ("PATCH", "/settings", {"tax_rounding": None}, V),
]


def test_each_hostile_tax_request_is_a_problem_and_writes_nothing(http_world: World) -> None:
    for method, path, body, expected in HTTP_CASES:
        before = event_count(http_world.services.ledger)
        problem = assert_problem(http_world.call(method, path, body), *expected)
        if expected[1] not in ("validation_error", "invalid_input"):
            assert problem.get("field") in ("tax_rate", "tax_description"), (path, problem)
        assert event_count(http_world.services.ledger) == before, (method, path, body)
