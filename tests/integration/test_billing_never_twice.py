"""Never bill twice: a voided billing-run invoice's period is billed again under the next
generation's deterministic id; a package period another invoice bills is reported, not billed."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal as D

import pytest
from click.testing import CliRunner

from adapters.cli.main import cli
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
    for _ in range(2):
        result = run_billing(ledger, db, NOVEMBER, customers=["BETA"], issue=True).results[0]
        ids.append(result.invoice_id)
        ledger.void_invoice(result.invoice_id, "t", "again")
    assert len(set(ids)) == 2
    preview = run_billing(ledger, db, NOVEMBER, customers=["BETA"], dry_run=True).results[0]
    assert preview.action == "would create" and preview.replaces == ids[-1]


def hand_made_trunk_invoice(ledger, account="ACME", **period):
    invoice_id = ledger.create_invoice(
        account,
        "t",
        period_start=period.get("start", NOVEMBER.start),
        period_end=period.get("end", NOVEMBER.end),
    )
    ledger.add_package_line(invoice_id, "Trunk", "t")
    return invoice_id


def test_a_hand_made_package_line_for_the_period_is_reported_and_not_billed_again(world):
    ledger, db = world
    hand_made = hand_made_trunk_invoice(ledger)
    number = ledger.issue_invoice(hand_made, "t")

    report = run_billing(ledger, db, NOVEMBER, customers=["ACME"])

    [result] = report.results
    assert result.action == "created"
    assert [line.kind for line in result.lines] == ["usage"]  # the trunk is left off
    [overlap] = result.overlaps
    assert (overlap.invoice_id, overlap.number, overlap.kind) == (hand_made, number, "package")
    assert overlap.package_id == ledger.package("Trunk").id
    assert result.as_dict()["overlaps"][0]["period_start"] == "2026-11-01"
    assert report.overlapping == [result]


def test_an_invoice_with_nothing_left_to_bill_is_skipped_and_billed_once_the_other_is_voided(
    world,
):
    ledger, db = world
    customers(ledger, [("QUIET", "GBP", "UTC", "destination")])  # a trunk, no calls
    trunk(ledger, "QUIET", date(2026, 1, 1))
    hand_made = hand_made_trunk_invoice(ledger, "QUIET")
    ledger.issue_invoice(hand_made, "t")

    skipped = run_billing(ledger, db, NOVEMBER, customers=["QUIET"])
    assert [(r.action, r.lines) for r in skipped.results] == [("skipped", [])]
    assert skipped.results[0].as_dict()["state"] == "not created"  # no draft to look for
    assert len(invoices_of(ledger, "QUIET")) == 1

    ledger.void_invoice(hand_made, "t", "raised by hand in error")
    billed = run_billing(ledger, db, NOVEMBER, customers=["QUIET"])
    assert [(r.action, r.overlaps) for r in billed.results] == [("created", [])]


def test_a_line_of_another_period_or_a_void_invoice_does_not_clash(world):
    ledger, db = world
    october = hand_made_trunk_invoice(ledger, start=date(2026, 10, 1), end=date(2026, 10, 31))
    ledger.issue_invoice(october, "t")
    voided = hand_made_trunk_invoice(ledger)
    ledger.issue_invoice(voided, "t")
    ledger.void_invoice(voided, "t", "typo")
    report = run_billing(ledger, db, NOVEMBER, customers=["ACME"])
    [result] = report.results
    assert result.overlaps == [] and len(result.lines) == 2


def test_usage_another_run_invoice_bills_is_skipped_and_the_whole_invoice_with_it(world):
    ledger, db = world
    # a run over a period that overlaps November (as a weekly schedule's would)
    run_billing(ledger, db, Period(date(2026, 11, 1), date(2026, 11, 7)), customers=["BETA"])
    report = run_billing(ledger, db, NOVEMBER, customers=["BETA"])
    [result] = report.results
    kinds = sorted(o.kind for o in result.overlaps)
    assert kinds == ["package", "usage"]
    assert result.action == "skipped" and result.lines == []
    assert len(invoices_of(ledger, "BETA")) == 1


def test_the_cli_reports_the_overlap_in_its_table_and_json_and_allows_it_on_request(
    world, store_url, monkeypatch
):
    ledger, _ = world
    hand_made_trunk_invoice(ledger)
    monkeypatch.setenv("TOLLBOOK_DATABASE_URL", store_url)
    runner = CliRunner()
    preview = runner.invoke(cli, ["bill", "--period", "2026-11", "--customer", "ACME", "--dry-run"])
    assert preview.exit_code == 0, preview.output
    assert "Overlaps: billed by another invoice" in preview.output
    assert "left off" in preview.output and "--allow-overlap" in preview.output
    done = runner.invoke(
        cli, ["bill", "--period", "2026-11", "--customer", "ACME", "--allow-overlap", "--json"]
    )
    assert done.exit_code == 0, done.output
    [invoice] = json.loads(done.stdout)["invoices"]
    assert invoice["action"] == "created" and invoice["lines"] == 2
    assert invoice["overlap_billed"] is True
    assert [o["kind"] for o in invoice["overlaps"]] == ["package"]


def hand_typed_invoice(ledger, description, account="ACME", **period):
    """An invoice raised by hand with a line typed in words, no package chosen."""
    invoice_id = ledger.create_invoice(
        account,
        "t",
        period_start=period.get("start", NOVEMBER.start),
        period_end=period.get("end", NOVEMBER.end),
    )
    ledger.add_line(
        invoice_id, "t", description=description, quantity=D("1"), unit_price=D("120.00")
    )
    return invoice_id


@pytest.mark.parametrize("typed", ["Trunk", "trunk,  November 2026", "TRUNK - Nov"])
def test_a_hand_typed_line_naming_the_package_is_reported_and_not_billed_again(world, typed):
    ledger, db = world
    hand_made = hand_typed_invoice(ledger, typed)
    number = ledger.issue_invoice(hand_made, "t")

    report = run_billing(ledger, db, NOVEMBER, customers=["ACME"])

    [result] = report.results
    assert [line.kind for line in result.lines] == ["usage"]  # the trunk is left off
    [overlap] = result.overlaps
    assert (overlap.invoice_id, overlap.number, overlap.kind) == (hand_made, number, "manual")
    assert overlap.description == typed


def test_typed_lines_that_do_not_name_the_package_or_its_period_do_not_clash(world):
    ledger, db = world
    for words in ("Trunking consultancy", "Porting fee", "Trunk setup"):
        ledger.issue_invoice(hand_typed_invoice(ledger, words), "t")
    october = hand_typed_invoice(ledger, "Trunk", start=date(2026, 10, 1), end=date(2026, 10, 31))
    ledger.issue_invoice(october, "t")
    voided = hand_typed_invoice(ledger, "Trunk")
    ledger.issue_invoice(voided, "t")
    ledger.void_invoice(voided, "t", "typo")

    [result] = run_billing(ledger, db, NOVEMBER, customers=["ACME"]).results
    # "Trunk setup" names the setup charge only: the trunk started in January, no setup now
    assert result.overlaps == [] and sorted(line.kind for line in result.lines) == [
        "package",
        "usage",
    ]
