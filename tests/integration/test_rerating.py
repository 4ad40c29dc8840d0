"""Re-rating from a rate card: increments, longest prefix, what-if, and no rewritten history."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D
from uuid import uuid5

import pytest

from adapters.ledger.folds import LogFolds
from adapters.store.database import Database
from adapters.usage.billing import run_billing
from adapters.usage.importer import import_cdrs
from adapters.usage.rating import load_rate_card, rerate
from domain.changes import CustomerChanges
from domain.errors import InvalidInput
from domain.pricing import parse_price
from domain.usage import Period
from tests.integration.usage_helpers import cdr, customers, trunk, write_cdrs

OCTOBER = Period.month("2026-10")
CARD = """prefix,destination,rate_per_minute,connection_fee,increments
44,UK,0.0100,0,60/60
447,UK Mobile,0.0600,0.0100,30/6
33,France,0.0200,0,1/1
"""


@pytest.fixture
def world(make_ledger, store_url, tmp_path):
    ledger = make_ledger()
    customers(ledger, [("ACME", "GBP", "UTC", "destination"), ("NEW", "GBP", "UTC", "none")])
    db = Database.from_url(store_url)
    rows = [
        cdr("m1", "ACME", duration=31, billed=60, dialled="447700900123", charge="0.0123"),
        cdr("f1", "ACME", duration=61, billed=61, dialled="+33140000000", charge="0.0100"),
        cdr("x1", "ACME", duration=60, billed=60, dialled="99912345", charge="0.5000"),
        cdr("n1", "NEW", duration=90, billed=120, dialled="441134960000", charge="0.0200"),
    ]
    import_cdrs(ledger, db, write_cdrs(tmp_path / "oct.csv", rows))
    card = tmp_path / "card.csv"
    card.write_text(CARD)
    return ledger, db, load_rate_card(card)


def test_rates_use_the_longest_prefix_and_the_billing_increments(world):
    _, _, card = world
    mobile = card.match("00447700900123")
    assert mobile is not None and mobile.destination == "UK Mobile"
    assert [mobile.billed_seconds(d) for d in (0, 1, 30, 31, 36, 37)] == [0, 30, 30, 36, 36, 42]
    assert mobile.charge_micros(36) == 46_000  # 0.01 fee + 0.06 x 36/60
    uk = card.match("441134960000")
    assert uk is not None and [uk.billed_seconds(d) for d in (1, 60, 61)] == [60, 60, 120]
    assert card.match("99912345") is None


def test_what_if_reports_the_difference_and_changes_nothing(world):
    ledger, db, card = world
    events = len(list(ledger.all_events()))
    results = {r.account: r for r in rerate(ledger, db, card, OCTOBER)}
    acme = results["ACME"]
    assert (acme.calls, acme.unmatched) == (3, 1)
    # m1: 0.01 + 0.06 x 36/60 = 0.046; f1: 0.02 x 61/60 = 0.020333
    assert (acme.old_micros, acme.new_micros) == (22_300, 66_333)
    assert results["NEW"].difference == D("0")  # 0.01 x 2 min: the switch agreed
    assert len(list(ledger.all_events())) == events
    preview = run_billing(ledger, db, OCTOBER, dry_run=True)
    assert {r.account: r.net for r in preview.results}["ACME"] == D("0.52")  # switch charges


def test_applying_to_an_uninvoiced_period_reprices_the_cdrs_before_billing(world):
    ledger, db, card = world
    rerate(ledger, db, card, OCTOBER, customers=["ACME"], apply=True)
    report = run_billing(ledger, db, OCTOBER, customers=["ACME"])
    assert report.results[0].net == D("0.57")  # 0.046 + 0.020333 + 0.50 unmatched


def test_applying_to_an_invoiced_period_adds_a_document_and_never_edits_the_invoice(world):
    ledger, db, card = world
    run_billing(ledger, db, OCTOBER, issue=True)
    invoice = LogFolds(ledger).invoices("ACME")[0]
    versions = invoice.version
    results = {r.account: r for r in rerate(ledger, db, card, OCTOBER, apply=True)}
    assert results["ACME"].action == "supplementary invoice"
    again = {r.account: r for r in rerate(ledger, db, card, OCTOBER, apply=True)}
    assert again["ACME"].action == "already adjusted"
    acme = LogFolds(ledger).invoices("ACME")
    assert len(acme) == 2 and ledger.invoice(invoice.id).version == versions
    adjustment = next(i for i in acme if i.id != invoice.id)
    assert adjustment.totals.net == D("0.04")  # 0.044033 more than the switch charged


def test_a_cheaper_card_on_an_issued_invoice_becomes_a_credit_note_once(world, tmp_path):
    ledger, db, _ = world
    run_billing(ledger, db, OCTOBER, issue=True)
    cheap = tmp_path / "cheap.csv"
    cheap.write_text(
        "prefix,destination,rate_per_minute,connection_fee,increments\n9,Any,0,0,1/1\n"
    )
    card = load_rate_card(cheap)
    first = rerate(ledger, db, card, OCTOBER, customers=["ACME"], apply=True)[0]
    assert first.action == "credit note" and first.difference == D("-0.5")
    second = rerate(ledger, db, card, OCTOBER, customers=["ACME"], apply=True)[0]
    assert second.action == "already adjusted"
    assert len(LogFolds(ledger).credit_notes()) == 1 and LogFolds(ledger).credit_notes()[
        0
    ].totals.net == D("0.50")


def test_a_bad_rate_card_is_refused(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("prefix,destination,rate_per_minute,connection_fee,increments\n44,UK,x,0,60\n")
    with pytest.raises(InvalidInput, match="line 2"):
        load_rate_card(bad)


def test_cdrs_an_invoice_never_billed_are_not_adjusted_by_rerating_it(world, tmp_path):
    ledger, db, card = world
    customers(ledger, [("LATE", "GBP", "UTC", "destination")])
    trunk(ledger, "LATE", date(2026, 10, 1))
    run_billing(ledger, db, OCTOBER, customers=["LATE"], issue=True)  # packages only
    late = write_cdrs(tmp_path / "late.csv", [cdr("l1", "LATE", dialled="447700900123")])
    import_cdrs(ledger, db, late)
    assert rerate(ledger, db, card, OCTOBER, customers=["LATE"], apply=True) == []
    assert len(LogFolds(ledger).invoices("LATE")) == 1 and LogFolds(ledger).credit_notes() == []
    report = run_billing(ledger, db, OCTOBER, customers=["LATE"])
    assert report.late_calls == 1  # still there to bill, at the switch's charge


def test_a_tiered_destination_is_re_rated_on_its_periods_minutes_not_per_call(world):
    ledger, db, card = world
    # the invoice would bill UK Mobile by tiers: 0-1 min at 0.50, then 0.10 a minute
    tiers = parse_price("UK Mobile=graduated:0-1:0.50,1-:0.10")
    ledger.change_customer(
        "ACME", CustomerChanges(usage_prices=(tiers,)), "t", effective_from=OCTOBER.start
    )
    [acme] = [r for r in rerate(ledger, db, card, OCTOBER) if r.account == "ACME"]
    # every CDR here is to "UK Mobile": billed 60 + 61 + 60 s = 3.02 min -> 0.50 + 2.02 x 0.10
    # = 0.70; the card bills m1 36 s (30/6) and f1 61 s (1/1), x1 is unmatched (60 s as it
    # was): 157 s = 2.62 min -> 0.50 + 0.162 = 0.66. Per call, the sums would be 0.5223/0.5663.
    assert (acme.old_micros, acme.new_micros) == (700_000, 660_000)
    rerate(ledger, db, card, OCTOBER, apply=True)
    [result] = [
        r for r in run_billing(ledger, db, OCTOBER, dry_run=True).results if r.account == "ACME"
    ]
    assert [(line.quantity, line.unit_price, line.net("GBP")) for line in result.lines] == [
        (D("1"), D("0.50"), D("0.50")),
        (D("1.62"), D("0.10"), D("0.16")),
    ]


def test_rerating_a_voided_and_rebilled_period_adjusts_the_invoice_that_is_not_void(world):
    ledger, db, card = world
    first = run_billing(ledger, db, OCTOBER, customers=["ACME"], issue=True).results[0]
    ledger.void_invoice(first.invoice_id, "t", "billed with the wrong plan")
    rebill = run_billing(ledger, db, OCTOBER, customers=["ACME"], issue=True).results[0]
    assert rebill.replaces == first.invoice_id

    [result] = rerate(ledger, db, card, OCTOBER, customers=["ACME"], apply=True)

    assert result.invoiced and result.action == "supplementary invoice"
    adjustment = [
        i
        for i in LogFolds(ledger).invoices("ACME")
        if i.id not in (first.invoice_id, rebill.invoice_id)
    ]
    assert len(adjustment) == 1 and adjustment[0].totals.net == D("0.04")
    # named after the invoice it adjusts: the re-bill, not the void one
    assert adjustment[0].id == uuid5(rebill.invoice_id, f"rerate:{card.sha256}")
