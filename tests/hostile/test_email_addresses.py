"""Hostile billing e-mail addresses and send requests: header injection, too many or overlong
addresses, control characters, a malformed domain. Each refusal is exact (exit code 2 and the
code in brackets, or HTTP 422 problem) and nothing is written or sent. SQLite only: the limits
do not depend on the store."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal as D
from typing import Any

import pytest

from adapters.app.context import Services
from tests.helpers import customer, event_count
from tests.hostile.test_http_errors import (  # noqa: F401  (fixtures, used by name)
    World,
    _quiet,
    _webhooks_may_reach_this_machine,
    _world,
    assert_problem,
    finance,
    services,
)

pytestmark = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)

# (the e-mail field, the refusal's code)
EMAILS: list[tuple[str, str]] = [
    ("a@example.com\r\nBcc: victim@evil.example", "invalid_characters"),
    ("a@example.com\nBcc: victim@evil.example", "invalid_characters"),
    ("a@example.com,\x00b@example.com", "invalid_characters"),
    ("Name <a@example.com>", "invalid_input"),
    ("a@example.com, , b@example.com", "invalid_input"),
    ("no-at-sign.example.com", "invalid_input"),
    ("a@@example.com", "invalid_input"),
    ("a@localhost", "invalid_input"),
    ("a@-bad-.example", "invalid_input"),
    ("a..b@example.com", "invalid_input"),
    ('"quoted"@example.com', "invalid_input"),
    ("a b@example.com", "invalid_input"),
    ("x" * 65 + "@example.com", "invalid_input"),
    ("a@" + "d" * 250 + ".com", "text_too_long"),
    (", ".join(f"u{i}@example.com" for i in range(11)), "invalid_input"),
    (",".join(["a@example.com"] * 300), "text_too_long"),
]
IDS = [f"{code}-{i}" for i, (_, code) in enumerate(EMAILS)]


def _one_error_line(result: Any, code: str) -> None:
    assert result.code == 2, (result.code, result.err)
    (line,) = result.err.splitlines()
    assert line.startswith("error: ") and line.endswith(f" [{code}]"), line


@pytest.mark.parametrize(("email", "code"), EMAILS, ids=IDS)
def test_a_hostile_billing_email_on_the_command_line_is_refused(
    tollbook: Any, make_ledger: Any, email: str, code: str
) -> None:
    ledger = make_ledger()
    customer(ledger, "ACME")
    before = event_count(ledger)

    for command in (["customer", "update", "ACME"], ["customer", "add", "NEW", "--name", "N"]):
        _one_error_line(tollbook(*command, "--email", email), code)
    assert event_count(ledger) == before


@pytest.fixture
def issued(make_ledger: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("TOLLBOOK_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("TOLLBOOK_SMTP_PORT", "9")  # never reached: every case is refused before
    monkeypatch.setenv("TOLLBOOK_SMTP_TLS", "none")
    monkeypatch.setenv("TOLLBOOK_SMTP_FROM", "billing@carrier.example")
    ledger = make_ledger()
    customer(ledger, "ACME")
    invoice_id = ledger.create_invoice("ACME", "t", period_start=date(2026, 10, 1))
    ledger.add_line(invoice_id, "t", description="x", quantity=D("1"), unit_price=D("1"))
    return ledger.issue_invoice(invoice_id, "t")


@pytest.mark.parametrize(("email", "code"), EMAILS, ids=IDS)
def test_a_hostile_recipient_of_a_send_is_refused_before_anything_is_sent(
    tollbook: Any, make_ledger: Any, issued: str, email: str, code: str
) -> None:
    ledger = make_ledger()
    before = event_count(ledger)

    _one_error_line(tollbook("invoice", "send", issued, "--to", email), code)
    assert event_count(ledger) == before


@pytest.mark.parametrize(
    ("key", "code"),
    [("k" * 201, "text_too_long"), ("a\x1b[2Jb", "invalid_characters"), ("  ", "invalid_input")],
)
def test_a_hostile_send_key_is_refused(
    tollbook: Any, make_ledger: Any, issued: str, key: str, code: str
) -> None:
    ledger = make_ledger()
    before = event_count(ledger)

    _one_error_line(
        tollbook("invoice", "send", issued, "--key", key, "--to", "a@example.com"), code
    )
    assert event_count(ledger) == before


def test_no_billing_address_and_no_to_is_a_clear_error(tollbook: Any, issued: str) -> None:
    result = tollbook("invoice", "send", issued)

    _one_error_line(result, "no_billing_address")
    assert "has no billing e-mail address" in result.err and "(--to" in result.err


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("TOLLBOOK_SMTP_TLS", "ssl3", "TOLLBOOK_SMTP_TLS"),
        ("TOLLBOOK_SMTP_PORT", "70000", "TOLLBOOK_SMTP_PORT"),
        ("TOLLBOOK_SMTP_FROM", "not an address", "TOLLBOOK_SMTP_FROM"),
        ("TOLLBOOK_SMTP_HOST", "", "TOLLBOOK_SMTP_HOST"),
    ],
)
def test_a_bad_smtp_setting_is_a_configuration_error(
    tollbook: Any,
    issued: str,
    monkeypatch: pytest.MonkeyPatch,
    setting: str,
    value: str,
    message: str,
) -> None:
    monkeypatch.setenv(setting, value)

    result = tollbook("invoice", "send", issued, "--to", "a@example.com")

    assert result.code != 0 and message in result.err, result.err


@pytest.fixture
def world(services: Services) -> Iterator[World]:  # noqa: F811
    yield from _world(services)


@pytest.mark.parametrize(("email", "code"), EMAILS, ids=IDS)
def test_a_hostile_billing_email_over_http_is_a_422_problem(
    world: World, email: str, code: str
) -> None:
    before = event_count(world.services.ledger)

    changed = world.call("PATCH", "/customers/ACME", {"email": email})

    assert_problem(changed, 422, code)
    assert event_count(world.services.ledger) == before


@pytest.mark.parametrize(("email", "code"), EMAILS, ids=IDS)
def test_a_hostile_recipient_over_http_is_a_422_and_nothing_is_sent(
    world: World, monkeypatch: pytest.MonkeyPatch, email: str, code: str
) -> None:
    monkeypatch.setenv("TOLLBOOK_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("TOLLBOOK_SMTP_PORT", "9")  # never reached: refused before
    monkeypatch.setenv("TOLLBOOK_SMTP_FROM", "billing@carrier.example")
    before = event_count(world.services.ledger)

    response = world.call("POST", "/invoices/{issued}/send", {"to": [email]})

    assert_problem(response, 422, code)
    assert event_count(world.services.ledger) == before


def test_hostile_recipients_and_keys_of_a_credit_note_send_are_422s_and_nothing_is_sent(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOLLBOOK_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("TOLLBOOK_SMTP_PORT", "9")  # never reached: refused before
    monkeypatch.setenv("TOLLBOOK_SMTP_FROM", "billing@carrier.example")
    ledger = world.services.ledger
    note = ledger.issue_credit_note(world.ids["issued"], "setup", "goodwill", amount=D("1.00"))
    before = event_count(ledger)

    for email, code in EMAILS:
        response = world.call("POST", f"/credit-notes/{note}/send", {"to": [email]})
        assert_problem(response, 422, code)
    long_key = world.call("POST", f"/credit-notes/{note}/send", {"key": "k" * 201})
    assert long_key.status_code == 422
    assert event_count(ledger) == before
