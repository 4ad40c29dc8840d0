"""Never bill twice: a voided billing-run invoice's period is billed again under the next
generation's deterministic id; a package period another invoice bills is reported, not billed."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest

from adapters.ledger.folds import LogFolds
from adapters.store.database import Database
from adapters.usage.billing import run_billing
from adapters.usage.importer import import_cdrs
from domain.usage import Period, invoice_id_for
from tests.integration.usage_helpers import cdr, customers, trunk, write_cdrs

NOVEMBER = Period.month("2026-11")


@pytest.fixture
def world(make_ledger, store_url, tmp_path):
    ledger = make_ledger()
    customers(ledger, [("ACME", "GBP", "UTC", "destination"), ("BETA", "GBP", "UTC", "none")])
    trunk(ledger, "ACME", date(2026, 1, 1))
    trunk(ledger, "BETA", date(2026, 1, 1))
    db = Database.from_url(store_url)
    rows = [
        cdr("a1", "ACME", start="2026-11-03T10:00:00Z", destination="UK Mobile", charge="1.00"),
        cdr("b1", "BETA", start="2026-11-04T10:00:00Z", charge="2.00"),
    ]
    import_cdrs(ledger, db, write_cdrs(tmp_path / "nov.csv", rows))
    return ledger, db


def invoices_of(ledger, account):
    return [i for i in LogFolds(ledger).invoices() if i.customer_account == account]


def test_a_voided_period_is_billed_again_once_under_the_next_generations_id(world):
    ledger, db = world
    first = run_billing(ledger, db, NOVEMBER, customers=["ACME"], issue=True).results[0]
    ledger.void_invoice(first.invoice_id, "t", "wrong trunk price")

    again = run_billing(ledger, db, NOVEMBER, customers=["ACME"], issue=True)

    [result] = again.results
    customer_id = ledger.customer("ACME").id
    assert result.action == "created" and result.replaces == first.invoice_id
    assert result.invoice_id == invoice_id_for(customer_id, NOVEMBER, replaces=first.invoice_id)
    assert result.as_dict()["replaces"] == str(first.invoice_id)
    assert result.total == first.total and result.number != first.number
    # a retry (or a run after a crash) finds the re-bill: nothing new
    retried = run_billing(ledger, db, NOVEMBER, customers=["ACME"])
    assert [(r.invoice_id, r.action) for r in retried.results] == [(result.invoice_id, "exists")]
    states = sorted(i.state for i in invoices_of(ledger, "ACME"))
    assert states == ["issued", "void"]


def test_every_void_in_the_chain_moves_the_period_to_the_next_generation(world):
    ledger, db = world
    ids = []
    for _ in range(3):
        result = run_billing(ledger, db, NOVEMBER, customers=["BETA"], issue=True).results[0]
        ids.append(result.invoice_id)
        ledger.void_invoice(result.invoice_id, "t", "again")
    assert len(set(ids)) == 3
    preview = run_billing(ledger, db, NOVEMBER, customers=["BETA"], dry_run=True).results[0]
    assert preview.action == "would create" and preview.replaces == ids[-1]


def test_a_draft_of_the_period_still_blocks_a_second_invoice(world):
    ledger, db = world
    run_billing(ledger, db, NOVEMBER, customers=["ACME"])
    report = run_billing(ledger, db, NOVEMBER, customers=["ACME"])
    assert [r.action for r in report.results] == ["exists"]
    assert len(invoices_of(ledger, "ACME")) == 1
