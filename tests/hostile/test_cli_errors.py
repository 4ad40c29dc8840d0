"""Hostile command lines: whatever is typed, a refusal is one line on stderr with a stable code
and a specific exit, never click's usage text or a traceback, and nothing is written."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from tests.helpers import completed_payment, customer, event_count, issued_invoice

RULE, INPUT, NOT_FOUND = 1, 2, 3


@pytest.fixture
def world(make_ledger):
    ledger = make_ledger()
    customer(ledger, "ACME", "GBP")
    ledger.define_package("t", name="Trunk", unit_price=D("10"), currency="GBP")
    issued = issued_invoice(ledger, "ACME", net="100.00")  # 120.00 with tax
    draft = ledger.create_invoice("ACME", "t")
    paid = completed_payment(ledger, "ACME", "50.00")
    ledger.allocate(paid, [(issued, D("10.00"))], "t")
    return {"ledger": ledger, "inv": issued, "draft": str(draft), "paid": str(paid)}


ESC, RLO, NUL = "\x1b", "\u202e", "\x00"

# (arguments with {placeholders}, exit code, the code in brackets)
CASES: list[tuple[tuple[str, ...], int, str]] = [
    # a required option or argument left out
    (("payment", "add", "ACME"), INPUT, "usage"),
    (("customer", "add", "NEW"), INPUT, "usage"),
    (("package", "add", "Fibre"), INPUT, "usage"),
    (("package", "assign", "ACME", "Trunk"), INPUT, "usage"),
    (("invoice", "void", "{inv}"), INPUT, "usage"),
    (("credit-note", "new", "{inv}", "--amount", "1"), INPUT, "usage"),
    (("payment", "unallocate", "{paid}", "{inv}", "1"), INPUT, "usage"),
    (("payment", "refund", "{paid}"), INPUT, "usage"),
    (("payment", "allocate", "{paid}"), INPUT, "usage"),
    (("settings", "set"), INPUT, "usage"),
    (("export", "file", "--from", "2026-01-01"), INPUT, "usage"),
    (("usage", "rerate"), INPUT, "usage"),
    (("invoice", "new"), INPUT, "usage"),
    (("payment", "add", "ACME", "--amount"), INPUT, "usage"),  # an option without its value
    # unknown options, commands and extra arguments
    (("payment", "add", "ACME", "--amont", "5"), INPUT, "usage"),
    (("invoice", "frobnicate"), INPUT, "usage"),
    (("nosuch",), INPUT, "usage"),
    (("invoice", "new", "ACME", "--colour", "red"), INPUT, "usage"),
    (("payment", "refund", "{paid}", "5", "--bogus"), INPUT, "usage"),
    (("payment", "refund", "{paid}", "--bogus", "5"), INPUT, "usage"),
    (("payment", "refund", "{paid}", "--bogus=1", "5"), INPUT, "usage"),
    (("payment", "refund", "{paid}", "-x"), INPUT, "usage"),
    (("payment", "refund", "{paid}", "5", "6"), INPUT, "usage"),
    (("invoice", "list", "-z"), INPUT, "usage"),
    (("invoice", "issue", "{draft}", "extra"), INPUT, "usage"),
    (("--no-such-global", "invoice", "list"), INPUT, "usage"),
    # negative numbers: refused by the domain's own rule, positional or not
    (("payment", "refund", "{paid}", "-5"), INPUT, "invalid_input"),
    (("payment", "refund", "{paid}", "-0.01"), INPUT, "invalid_input"),
    (("payment", "refund", "{paid}", "-5", "--json"), INPUT, "invalid_input"),
    (("payment", "refund", "{paid}", "--", "-5"), INPUT, "invalid_input"),
    (("payment", "unallocate", "{paid}", "{inv}", "-5", "--reason", "r"), INPUT, "invalid_input"),
    (("payment", "add", "ACME", "--amount", "-5"), INPUT, "invalid_input"),
    (("payment", "allocate", "{paid}", "{inv}=-5"), INPUT, "invalid_input"),
    (
        ("invoice", "line", "add", "{draft}", "--description", "X", "--unit-price", "-1"),
        INPUT,
        "invalid_input",
    ),
    (("credit-note", "new", "{inv}", "--amount", "-10", "--reason", "r"), INPUT, "invalid_input"),
    # numbers the parser reads as numbers but the ledger does not
    (("payment", "refund", "{paid}", "-5e3"), INPUT, "invalid_amount"),
    (("payment", "add", "ACME", "--amount", "1e400"), INPUT, "invalid_amount"),
    (("payment", "add", "ACME", "--amount", "12,50"), INPUT, "invalid_amount"),
    (("payment", "add", "ACME", "--amount", "NaN"), INPUT, "invalid_amount"),
    (("payment", "add", "ACME", "--amount", "-Infinity"), INPUT, "invalid_amount"),
    (("payment", "add", "ACME", "--amount", "0x10"), INPUT, "invalid_amount"),
    (("payment", "add", "ACME", "--amount", "１２"), INPUT, "invalid_amount"),  # full width
    (("payment", "add", "ACME", "--amount", "٣"), INPUT, "invalid_amount"),  # Arabic-Indic 3
    (("payment", "refund", "{paid}", "５"), INPUT, "invalid_amount"),
    # huge and out-of-range numbers for the command line's own options
    (("invoice", "show", "{inv}", "--version", "9" * 30), INPUT, "usage"),
    (("payment", "show", "{paid}", "--version", "-5"), INPUT, "usage"),
    (("customer", "show", "ACME", "--version", "-1"), INPUT, "usage"),
    (("export", "retry", "9" * 30), INPUT, "usage"),
    (("export", "retry", "-1"), INPUT, "usage"),
    (("webhook", "deliveries", "--limit", "9" * 20), INPUT, "usage"),
    (("webhook", "deliveries", "--limit", "-1"), INPUT, "usage"),
    (("projections", "rebuild", "--batch-size", "0"), INPUT, "usage"),
    (("projections", "catch-up", "--batch-size", "-1"), INPUT, "usage"),
    (("projections", "follow", "--interval", "-1"), INPUT, "usage"),
    (("projections", "follow", "--interval", "nan"), INPUT, "usage"),
    (("serve", "--port", "99999999"), INPUT, "usage"),
    (("invoice", "pdf", "--all", "--jobs", "100000"), INPUT, "usage"),
    (("invoice", "pdf", "--all", "--workers", "0"), INPUT, "usage"),
    (("invoice", "pdf", "--all", "--workers", "65"), INPUT, "usage"),
    (("invoice", "pdf", "--all", "--workers", "two"), INPUT, "usage"),
    (("invoice", "pdf", "{inv}", "--workers", "2"), INPUT, "invalid_input"),
    # wrong types for typed options
    (("customer", "add", "NEW", "--name", "N", "--terms", "abc"), INPUT, "usage"),
    (("customer", "add", "NEW", "--name", "N", "--terms", "1.5"), INPUT, "usage"),
    (("invoice", "show", "{inv}", "--version", "x"), INPUT, "usage"),
    (("projections", "rebuild", "--batch-size", "lots"), INPUT, "usage"),
    (("customer", "add", "NEW", "--name", "N", "--grouping", "weird"), INPUT, "usage"),
    (("package", "add", "P", "--price", "1", "--frequency", "hourly"), INPUT, "usage"),
    (
        ("export", "file", "--from", "2026-01-01", "--to", "2026-01-31", "--format", "xml"),
        INPUT,
        "usage",
    ),
    (("export", "retry", "first"), INPUT, "usage"),
    (("invoice", "new", "ACME", "--date", "2026-02-30"), INPUT, "invalid_date"),
    (("invoice", "new", "ACME", "--date", "31/10/2026"), INPUT, "invalid_date"),
    (("invoice", "show", "{inv}", "--as-of", "yesterday"), INPUT, "invalid_date"),
    (("invoice", "show", "{inv}", "--as-of", "2026-11-01T12:00:00"), INPUT, "invalid_date"),
    # garbage ids and references
    (("payment", "complete", "not-a-uuid"), NOT_FOUND, "not_found"),
    (("payment", "complete", "00000000-0000-0000-0000-000000000000"), NOT_FOUND, "not_found"),
    (("invoice", "show", "INV-0000-000000"), NOT_FOUND, "not_found"),
    (("invoice", "issue", "../../etc/passwd"), NOT_FOUND, "not_found"),
    (("customer", "show", "'; DROP TABLE stored_events; --"), NOT_FOUND, "not_found"),
    (("invoice", "new", "NOBODY"), NOT_FOUND, "not_found"),
    (("package", "end", "ACME", "not-a-uuid", "--end", "2026-12-31"), INPUT, "invalid_input"),
    (("payment", "allocate", "{paid}", "INV-9999-999999=1"), NOT_FOUND, "not_found"),
    # empty strings
    (("payment", "add", "ACME", "--amount", ""), INPUT, "invalid_amount"),
    (("invoice", "show", ""), NOT_FOUND, "not_found"),
    (("payment", "refund", "", "5"), NOT_FOUND, "not_found"),
    (("payment", "allocate", "{paid}", ""), INPUT, "invalid_input"),
    (("payment", "allocate", "{paid}", "=5"), INPUT, "invalid_input"),
    (("settings", "set", ""), INPUT, "invalid_input"),
    (("settings", "set", "no_such_setting=1"), INPUT, "invalid_input"),
    (("invoice", "line", "edit", "{draft}", "1"), INPUT, "invalid_input"),  # nothing to change
    (("customer", "update", "ACME"), INPUT, "invalid_input"),
    # unicode and control characters: echoed escaped, never raw
    (("invoice", "show", f"INV{RLO}1"), NOT_FOUND, "not_found"),
    (("customer", "show", f"{ESC}[2J{ESC}[31mACME"), NOT_FOUND, "not_found"),
    (("invoice", "show", "INV\n2026\r000001"), NOT_FOUND, "not_found"),
    (("payment", "add", f"ACME{NUL}", "--amount", "5"), NOT_FOUND, "not_found"),
    (("invoice", "new", "ACME", "--colour", f"{ESC}]0;pwned{ESC}\\"), INPUT, "usage"),
    (("customer", "add", "NEW", "--name", "N", "--terms", f"1{RLO}"), INPUT, "usage"),
    (("invoice", "show", "💸" * 100), NOT_FOUND, "not_found"),
]


@pytest.mark.parametrize(
    ("args", "exit_code", "code"), CASES, ids=[" ".join(c[0])[:60] for c in CASES]
)
def test_a_hostile_command_line_gets_one_line_and_writes_nothing(
    tollbook, world, args, exit_code, code
):
    ledger = world["ledger"]
    before = event_count(ledger)

    result = tollbook(*(arg.format(**world) for arg in args))

    assert result.code == exit_code, (result.code, result.err)
    lines = result.err.splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("error: ") and lines[0].endswith(f" [{code}]"), lines[0]
    assert not any(ch in lines[0] for ch in (ESC, RLO, NUL, "\r")), repr(lines[0])
    assert "Usage:" not in result.err and "Traceback" not in result.err
    assert result.out == ""
    assert event_count(ledger) == before


def test_a_negative_refund_reaches_the_domain_and_is_refused_by_its_rule(tollbook, world):
    result = tollbook("payment", "refund", world["paid"], "-5")

    assert result.code == INPUT
    assert result.err == "error: refund amount must be greater than zero, got -5 [invalid_input]\n"


def test_a_missing_option_names_the_command_and_the_option(tollbook, world):
    result = tollbook("payment", "add", "ACME")

    assert result.err == "error: tollbook payment add: Missing option '--amount'. [usage]\n"
