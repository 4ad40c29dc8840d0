"""Hostile statements of account: periods out of range, backwards, too long or garbled; an
unknown customer or currency; too many lines; a statement read without folding the log.

Each case asserts the exact refusal (CLI exit code and message, or HTTP status and problem
code) and that no event was written.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal

import pytest

from adapters.ledger.application import Ledger
from adapters.ledger.folds import LogFolds
from domain import limits
from tests.helpers import event_count
from tests.service.conftest import client, keys, reader, services, writer  # noqa: F401
from tests.statement_support import one_invoice, worked_case

pytestmark = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)

CLI_CASES = [
    (["--from", "1999-12-31", "--to", "2000-01-31"], 2, "statement start must be between"),
    (["--from", "2099-12-01", "--to", "2100-01-01"], 2, "statement end must be between"),
    (["--from", "2026-11-30", "--to", "2026-11-01"], 2, "is before its start"),
    (["--from", "2025-11-29", "--to", "2026-11-30"], 2, "at most 366 days"),
    (["--from", "2026-02-30", "--to", "2026-03-01"], 2, "statement start"),
    (["--from", "2026-11-01", "--to", "next week"], 2, "statement end"),
    (["--from", "2026-11-01"], 2, "Missing option '--to'"),
    (["--from", "2026-11-01", "--to", "2026-11-30", "--json", "--csv"], 2, "not both"),
    (["--from", "2026-11-01", "--to", "2026-11-30", "--dry-run"], 2, "go with --send"),
    (["--from", "2026-11-01", "--to", "2026-11-30", "--pdf", "x.pdf", "--currency", "XYZ"],
     2, "unknown currency"),
    (["--from", "2026-11-01", "--to", "2026-11-30", "--pdf", "x.pdf", "--currency", "EUR"],
     3, "nothing in EUR"),
    (["--from", "2026-11-01", "--to", "2026-11-30", "--send", "--key", " "], 2, "key is empty"),
    (["--from", "2026-11-01", "--to", "2026-11-30", "--send", "--recipients", "a@b\nBcc: x@y"],
     2, ""),
]  # fmt: skip


@pytest.fixture
def seeded(ledger: Ledger, clock) -> Ledger:
    one_invoice(ledger, clock)
    return ledger


@pytest.fixture
def worked(ledger: Ledger, clock) -> Ledger:
    worked_case(ledger, clock)
    return ledger


@pytest.mark.parametrize(("args", "code", "words"), CLI_CASES)
def test_the_cli_refuses_a_bad_statement_request(
    seeded, tollbook, tmp_path, monkeypatch, args, code, words
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TOLLBOOK_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("TOLLBOOK_SMTP_FROM", "billing@carrier.example")
    before = event_count(seeded)
    result = tollbook("customer", "statement", "ACME", *args)
    assert result.code == code, result.err
    assert words in result.err
    assert event_count(seeded) == before
    assert not (tmp_path / "x.pdf").exists()  # nothing half-written


def test_an_unknown_customer_is_not_found(seeded, tollbook):
    result = tollbook("customer", "statement", "NOPE", "--from", "2026-11-01", "--to",
                      "2026-11-30")  # fmt: skip
    assert result.code == 3 and "NOPE" in result.err


def test_too_many_lines_asks_for_a_shorter_period(worked, tollbook, monkeypatch):
    monkeypatch.setattr(limits, "MAX_STATEMENT_LINES", 3)
    result = tollbook("customer", "statement", "ACME", "--from", "2026-11-01", "--to",
                      "2026-11-30")  # fmt: skip
    assert result.code == 2 and "more than 3 lines: ask for a shorter period" in result.err
    october = tollbook("customer", "statement", "ACME", "--from", "2026-10-01", "--to",
                       "2026-10-31", "--json")  # fmt: skip
    assert october.code == 0 and len(october.json()["sections"][0]["lines"]) == 3


def test_a_statement_folds_no_events(worked, tollbook, monkeypatch):
    tollbook("customer", "statement", "ACME", "--from", "2026-11-01", "--to", "2026-11-30")

    def fold(*args, **kwargs):
        raise AssertionError("a statement folded the log")

    monkeypatch.setattr(LogFolds, "_every", fold)
    monkeypatch.setattr(Ledger, "all_events", fold)
    result = tollbook("customer", "statement", "ACME", "--from", "2026-11-01", "--to",
                      "2026-11-30", "--json")  # fmt: skip
    assert result.code == 0, result.err
    assert result.json()["sections"][0]["closing_balance"] == "-5.00"


# ------------------------------------------------------------------ HTTP


@pytest.fixture
def http_seeded(services, clock) -> Iterator[Ledger]:  # noqa: F811
    one_invoice(services.ledger, clock)
    yield services.ledger


@pytest.mark.parametrize(
    ("path", "params", "status", "code"),
    [
        ("/customers/NOPE/statement", {"from": "2026-11-01", "to": "2026-11-30"}, 404,
         "not_found"),
        ("/customers/ACME/statement", {"from": "2026-11-01"}, 422, "validation_error"),
        ("/customers/ACME/statement", {"from": "01/11/2026", "to": "2026-11-30"}, 422,
         "validation_error"),
        ("/customers/ACME/statement", {"from": "2026-11-01", "to": "2026-11-30",
                                       "format": "xlsx"}, 422, "validation_error"),
        ("/customers/ACME/statement", {"from": "2100-01-01", "to": "2100-01-31"}, 422,
         "out_of_range"),
        ("/customers/ACME/statement", {"from": "2026-12-01", "to": "2026-11-30"}, 422,
         "invalid_date"),
        ("/customers/ACME/statement", {"from": "2025-01-01", "to": "2026-11-30"}, 422,
         "out_of_range"),
        ("/customers/ACME/statement", {"from": "2026-11-01", "to": "2026-11-30",
                                       "format": "pdf", "currency": "e€r"}, 422, "invalid_input"),
    ],
)  # fmt: skip
def test_the_api_refuses_a_bad_statement_request(http_seeded, reader, path, params, status, code):  # noqa: F811
    before = event_count(http_seeded)
    answer = reader.get(path, **params)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] == code
    assert event_count(http_seeded) == before


def test_a_statement_ends_at_the_day_asked(worked, tollbook, clock):
    """Lines recorded after ``to`` (the clock moved on) never reach the statement of ``to``."""
    before = tollbook("customer", "statement", "ACME", "--from", "2026-11-01", "--to",
                      "2026-11-30", "--json").json()  # fmt: skip
    clock.set(datetime.fromisoformat("2026-12-02T10:00:00+00:00"))
    worked.record_payment("ACME", "t", amount=Decimal("5.00"), status="completed")
    after = tollbook("customer", "statement", "ACME", "--from", "2026-11-01", "--to",
                     "2026-11-30", "--json").json()  # fmt: skip
    assert after == before


SEND = {"period_from": "2026-11-01", "period_to": "2026-11-30"}


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({**SEND, "period_to": "2026-10-31"}, "invalid_date"),
        ({**SEND, "period_from": "1999-12-31"}, "out_of_range"),
        ({**SEND, "period_to": "2026-11-31"}, "validation_error"),
        ({**SEND, "period_from": "2025-01-01"}, "out_of_range"),
        ({**SEND, "recipients": ["ap@acme.example\r\nBcc: all@victim.example"]},
         "invalid_characters"),
        ({**SEND, "recipients": [f"ap{n}@acme.example" for n in range(11)]}, "validation_error"),
        ({**SEND, "recipients": ["not an address"]}, "invalid_input"),
        ({**SEND, "recipients": []}, "no_billing_address"),  # none given, none on record
        (SEND, "no_billing_address"),
        ({**SEND, "recipients": ["ap@acme.example"], "key": "k" * 201}, "text_too_long"),
        ({**SEND, "recipients": ["ap@acme.example"], "key": " "}, "invalid_input"),
        ({**SEND, "recipients": ["ap@acme.example"], "currency": "e€r"}, "invalid_input"),
        ({**SEND, "recipients": ["ap@acme.example"], "dry_run": "yes please"},
         "validation_error"),
    ],
)  # fmt: skip
def test_the_api_refuses_a_bad_statement_send_and_sends_nothing(
    http_seeded,
    writer,  # noqa: F811 (the fixture, imported above)
    monkeypatch,
    body,
    code,
):
    from tests.mail_support import smtp_env

    smtp_env(monkeypatch)  # configured, nothing listening: a send that got through would fail
    before = event_count(http_seeded)
    answer = writer.post("/customers/ACME/statement/send", body)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] == code
    assert event_count(http_seeded) == before
