"""A billing run where one customer's invoice breaks the ledger's limits.

Before: the whole run stopped at that customer (a batch of 50 invoices saved in one
transaction was lost with it, and every customer after it went unbilled). Now the run bills
every other customer, reports the refused one with the domain's code and message (table,
JSON, exit 1 ``some_refused``, an error log line), and a second run bills nothing twice.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal as D
from uuid import UUID

import pytest

from tests.e2e.test_usage_cli import run
from tests.helpers import event_count
from tests.integration.usage_helpers import cdr, customers, write_cdrs

LIMIT = "must be less than 10,000,000,000,000 GBP"


@pytest.fixture
def db_url(make_ledger, store_url, tmp_path, capsys):
    ledger = make_ledger()
    customers(ledger, [(a, "GBP", "UTC", "destination") for a in ("ACME", "BIG", "ZED")])
    # a package at the highest unit price the ledger accepts, twice: its invoice's total
    # is beyond the money limit (each value alone is within it)
    ledger.define_package("t", name="Exchange", unit_price=D("9999999999999.99"), currency="GBP")
    ledger.assign_package("BIG", "Exchange", "t", start_date=date(2026, 10, 1), quantity=D(2))
    path = write_cdrs(tmp_path / "oct.csv", [cdr("a1"), cdr("z1", account="ZED")])
    assert run(capsys, "--db", store_url, "usage", "import", str(path))[0] == 0
    return store_url


def test_one_refused_customer_does_not_stop_the_run(db_url, make_ledger, capsys):
    before = event_count(make_ledger())

    code, out, err = run(capsys, "--db", db_url, "bill", "--period", "2026-10", "--json")

    assert code == 1, err
    invoices = {i["account"]: i for i in json.loads(out)["invoices"]}
    assert {a: i["action"] for a, i in invoices.items()} == {
        "ACME": "created",
        "BIG": "refused",
        "ZED": "created",
    }
    big = invoices["BIG"]
    assert big["code"] == "out_of_range" and LIMIT in big["reason"]
    assert (big["lines"], big["total"]) == (0, "0")
    assert invoices["ACME"]["code"] is None and invoices["ACME"]["total"] == "0.01"
    assert err.splitlines()[-1] == (
        "error: 1 of 3 invoices refused (BIG): the others were billed; put the cause right"
        " and run again (nothing is billed twice) [some_refused]"
    )
    assert "billing run refused an invoice" in err and "account=BIG" in err
    assert event_count(make_ledger()) == before + 2  # one Drafted per billed customer

    # again, as a table: nothing billed twice, the same customer refused
    code, out, err = run(capsys, "--db", db_url, "bill", "--period", "2026-10")
    assert code == 1 and "[some_refused]" in err
    assert "0 created, 2 already there, 0 to create, 1 refused" in out
    assert "Refused" in out and "out_of_range" in out and "BIG" in out
    assert event_count(make_ledger()) == before + 2


def test_a_dry_run_finds_the_same_refusal_and_writes_nothing(db_url, make_ledger, capsys):
    before = event_count(make_ledger())

    code, out, err = run(capsys, "--db", db_url, "bill", "--period", "2026-10", "--dry-run")

    assert code == 1 and "[some_refused]" in err
    assert "0 created, 0 already there, 2 to create, 1 refused" in out
    assert event_count(make_ledger()) == before


def test_an_invoice_the_ledger_will_not_issue_stays_a_draft_and_the_run_goes_on(
    db_url, make_ledger, capsys, monkeypatch
):
    from adapters.ledger.application import Ledger
    from domain.errors import InvalidState

    real_issue = Ledger.issue_invoice

    def issue(self, invoice_ref, actor):  # the ledger refuses ZED's issue (say, a race)
        if self.invoice(invoice_ref).customer_account == "ZED":
            raise InvalidState("invoice of ZED was changed meanwhile")
        return real_issue(self, invoice_ref, actor)

    monkeypatch.setattr(Ledger, "issue_invoice", issue)
    before = event_count(make_ledger())

    code, out, err = run(capsys, "--db", db_url, "bill", "--period", "2026-10", "--issue", "--json")

    assert code == 1 and "[some_refused]" in err
    invoices = {i["account"]: i for i in json.loads(out)["invoices"]}
    assert (invoices["ACME"]["action"], invoices["ACME"]["state"]) == ("created", "issued")
    zed = invoices["ZED"]
    assert (zed["action"], zed["state"], zed["code"]) == ("refused", "draft", "invalid_state")
    assert "changed meanwhile" in zed["reason"] and zed["lines"] == 1
    assert "billing run could not issue an invoice" in err and "account=ZED" in err
    ledger = make_ledger()
    assert ledger.invoice(zed["invoice_id"]).state == "draft"
    assert len(ledger.events_of(UUID(zed["invoice_id"]))) == 1  # drafted; nothing of an issue
    assert ledger.invoice(invoices["ACME"]["invoice_id"]).state == "issued"
    assert event_count(ledger) > before
