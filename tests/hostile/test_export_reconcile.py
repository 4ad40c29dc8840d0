"""Hostile requests to ``tollbook export reconcile``: each is refused with its exact exit code
and message, writes no ledger event and sends nothing to the accounting system."""

from __future__ import annotations

import pytest

from tests.e2e.test_export_cli import _configure, cli, xero  # noqa: F401
from tests.helpers import event_count
from tests.integration.accounting.helpers import billing_cycle

CASES = [
    (("nope",), 5, "no connection named 'nope' (known: acme-xero)"),
    (("",), 5, "no connection named ''"),
    (("acme-xero\x1b[31m",), 5, "no connection named 'acme-xero\\x1b[31m'"),
    (("acme-xero\n",), 5, "no connection named 'acme-xero\\n'"),
    (("ACME-XERO",), 5, "no connection named 'ACME-XERO'"),
    (("x" * 10_000,), 5, "no connection named 'xxxx"),
    ((), 2, "Missing argument 'CONNECTION'"),
    (("acme-xero", "acme-xero"), 2, "unexpected extra argument"),
    (("acme-xero", "--fix"), 2, "No such option '--fix'"),
]


@pytest.mark.parametrize(("args", "code", "message"), CASES)
def test_reconcile_refuses_hostile_requests_and_touches_nothing(
    cli,  # noqa: F811
    make_ledger,
    xero,  # noqa: F811
    tmp_path,
    monkeypatch,
    args,
    code,
    message,
):
    ledger = make_ledger()
    billing_cycle(ledger)
    _configure(tmp_path, monkeypatch, xero)
    assert cli("export", "xero")[0] == 0
    before, requests = event_count(ledger), len(xero.requests)

    got, out, err = cli("export", "reconcile", *args)

    assert (got, message in err) == (code, True), err
    assert out == ""
    assert event_count(make_ledger()) == before
    assert len(xero.requests) == requests


def test_reconcile_only_reads_the_remote_system(
    cli,  # noqa: F811
    make_ledger,
    xero,  # noqa: F811
    tmp_path,
    monkeypatch,
):
    ledger = make_ledger()
    billing_cycle(ledger)
    _configure(tmp_path, monkeypatch, xero)
    assert cli("export", "xero")[0] == 0
    before, requests = event_count(ledger), len(xero.requests)

    assert cli("export", "reconcile", "acme-xero")[0] == 0

    sent = xero.requests[requests:]
    assert {r.method for r in sent if r.path.startswith("/api.xro")} == {"GET"}
    assert event_count(make_ledger()) == before
