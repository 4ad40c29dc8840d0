"""Hostile requests to settle export dead letters (``tollbook export resolve|skip|retry``).

Each is refused with its exact exit code and message, writes no ledger event, and leaves the
dead letter and what is parked behind it exactly as they were.
"""

from __future__ import annotations

import json

import pytest

from tests.e2e.test_export_cli import _configure, _stuck_customer, cli, xero  # noqa: F401
from tests.helpers import event_count

LONG = "x" * 1001
CASES = [
    # a reason is required, the ledger's one reason rule (domain/limits.py REASON): at most
    # 1,000 characters, lines (LF, CRLF) but no other control character
    (("skip", "{id}"), 2, "Missing option '--reason'"),
    (("resolve", "{id}"), 2, "Missing option '--reason'"),
    (("skip", "{id}", "--reason", ""), 2, "needs a reason"),
    (("skip", "{id}", "--reason", "   "), 2, "needs a reason"),
    (("resolve", "{id}", "--reason", "\t \t"), 2, "must not contain control characters"),
    (("skip", "{id}", "--reason", LONG), 2, "reason must be at most 1,000 characters, got 1,001"),
    (("resolve", "{id}", "--reason", "y" * 10_000), 2, "at most 1,000 characters"),
    (("skip", "{id}", "--reason", "ok\x00"), 2, "control characters"),
    (("skip", "{id}", "--reason", "paid\x1b[31m red"), 2, "control characters"),
    (("resolve", "{id}", "--reason", "two\u2028lines"), 2, "(found U+2028 at character 4)"),
    (("skip", "{id}", "--reason", "carriage\rreturn"), 2, "control characters"),
    # a remote id is one printable word of at most 200 characters, and only for resolve
    (("resolve", "{id}", "--reason", "ok", "--remote-id", "two words"), 2, "one word"),
    (("resolve", "{id}", "--reason", "ok", "--remote-id", "tab\tid"), 2, "(found U+0009 at"),
    (("resolve", "{id}", "--reason", "ok", "--remote-id", "nul\x00id"), 2, "(found U+0000 at"),
    (
        ("resolve", "{id}", "--reason", "ok", "--remote-id", "r" * 201),
        2,
        "remote id must be at most 200 characters, got 201",
    ),
    (("skip", "{id}", "--reason", "ok", "--remote-id", "abc"), 2, "No such option"),
    # the letter id is a known integer
    (("skip", "999999", "--reason", "ok"), 3, "no dead letter #999999"),
    (("resolve", "999999", "--reason", "ok"), 3, "no dead letter #999999"),
    (("retry", "999999"), 3, "no dead letter #999999"),
    (("skip", "0", "--reason", "ok"), 2, "0 is not in the range"),
    (("skip", "abc", "--reason", "ok"), 2, "'abc' is not a valid integer"),
    (("skip", "1.5", "--reason", "ok"), 2, "'1.5' is not a valid integer"),
    (("resolve", "1e3", "--reason", "ok"), 2, "'1e3' is not a valid integer"),
    (("skip", "", "--reason", "ok"), 2, "'' is not a valid integer"),
    (("skip", "--reason", "ok"), 2, "Missing argument 'LETTER_ID'"),
    (("skip", "{id}", "{id}", "--reason", "ok"), 2, "unexpected extra argument"),
    (("waive", "{id}", "--reason", "ok"), 2, "No such command 'waive'"),
    # only the head of a customer's queue is settled; what waits behind it waits
    (("skip", "{parked}", "--reason", "ok"), 1, "held behind"),
    (("resolve", "{parked}", "--reason", "ok"), 1, "held behind"),
    (("retry", "{parked}"), 1, "held behind"),
    (("resolve", "{parked}", "--reason", "ok", "--remote-id", "abc"), 1, "held behind"),
]


def _dead_and_parked(cli, ledger, xero, tmp_path, monkeypatch):  # noqa: F811
    """A customer's export refused by Xero (a dead letter) and the one parked behind it."""
    _stuck_customer(ledger)
    _configure(tmp_path, monkeypatch, xero)
    assert cli("export", "xero")[0] == 0
    return json.loads(cli("export", "status", "--json")[1])["dead_letters"]


@pytest.mark.parametrize(("args", "code", "message"), CASES)
def test_settling_a_dead_letter_refuses_hostile_requests_and_writes_nothing(
    cli,  # noqa: F811
    make_ledger,
    xero,  # noqa: F811
    tmp_path,
    monkeypatch,
    args,
    code,
    message,
):
    dead, parked = _dead_and_parked(cli, make_ledger(), xero, tmp_path, monkeypatch)
    before = event_count(make_ledger())
    filled = [a.format(id=dead["id"], parked=parked["id"]) for a in args]

    got, _, err = cli("export", *filled)

    assert (got, message in err) == (code, True), err
    assert event_count(make_ledger()) == before
    status = json.loads(cli("export", "status", "--json")[1])
    assert [(d["id"], d["status"]) for d in status["dead_letters"]] == [
        (dead["id"], "dead"),
        (parked["id"], "parked"),
    ]
    assert status["settled"] == []


def test_a_dead_letters_reason_has_the_ledgers_one_limit(
    cli,  # noqa: F811
    make_ledger,
    xero,  # noqa: F811
    tmp_path,
    monkeypatch,
):
    """The reason for settling a dead letter is any event's reason (domain/limits.py REASON):
    refused in the same words as a void's, and up to 1,000 characters accepted (the export
    side once stopped at 500)."""
    dead, _ = _dead_and_parked(cli, make_ledger(), xero, tmp_path, monkeypatch)
    before = event_count(make_ledger())

    skipped = cli("export", "skip", str(dead["id"]), "--reason", LONG)
    voided = cli("invoice", "void", dead["label"], "--reason", LONG)

    assert skipped[0] == voided[0] == 2
    assert skipped[2].splitlines()[-1] == voided[2].splitlines()[-1]  # after a log line
    assert "reason must be at most 1,000 characters, got 1,001 [text_too_long]" in skipped[2]
    assert event_count(make_ledger()) == before

    reason = "booked by hand as a journal; " + "r" * 971  # 1,000 characters
    code, _, err = cli("export", "skip", str(dead["id"]), "--reason", reason)
    assert code == 0, err
    assert event_count(make_ledger()) == before + 1
    [settled] = json.loads(cli("export", "status", "--json")[1])["settled"]
    assert settled["reason"] == reason
