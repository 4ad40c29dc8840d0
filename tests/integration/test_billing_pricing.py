"""The billing run's pricing on SQLite and PostgreSQL: tiered and volume prices, minimum
commitment top-ups, and charges carried forward below the minimum invoice amount (each
period billed exactly once)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from adapters.describe import describe
from adapters.ledger.folds import LogFolds
from adapters.store.database import Database
from adapters.usage.billing import run_billing
from adapters.usage.importer import import_cdrs
from domain.changes import CustomerChanges, PackageChanges, SettingsChanges
from domain.customer import Customer
from domain.invoice import Invoice
from domain.pricing import parse_price
from domain.usage import Period, invoice_id_for
from tests.integration.usage_helpers import cdr, customers, trunk, write_cdrs

OCTOBER, NOVEMBER, DECEMBER = (Period.month(f"2026-{m}") for m in ("10", "11", "12"))


@pytest.fixture
def world(make_ledger, store_url, tmp_path):
    ledger = make_ledger()
    customers(ledger, [("TIER", "GBP", "UTC", "day"), ("VOL", "GBP", "UTC", "destination")])
    db = Database.from_url(store_url)
    yield ledger, db, tmp_path
    db.close()


def lines_of(invoice: Invoice) -> list[tuple[str, D, D, D]]:
    return [
        (line.description, line.quantity, line.unit_price, line.net(invoice.currency))
        for line in invoice.lines.values()
    ]


def invoices_of(ledger, account: str) -> list[Invoice]:
    return [i for i in LogFolds(ledger).invoices() if i.customer_account == account]


def calls(account: str, destination: str, minutes: list[int], month: str = "10") -> list[str]:
    return [
        cdr(
            f"{account}-{destination}-{month}-{n}",
            account,
            start=f"2026-{month}-{1 + n % 28:02d}T10:00:00Z",
            duration=60 * m,
            billed=60 * m,
            destination=destination,
            charge="0.0123",
        )
        for n, m in enumerate(minutes)
    ]


def test_graduated_and_volume_tiers_price_the_periods_minutes_per_destination(world):
    ledger, db, tmp_path = world
    tiers = "0-1000:0.0100,1000-5000:0.0080,5000-:0.0060"
    ledger.change_customer(
        "TIER",
        CustomerChanges(usage_prices=(parse_price(f"UK Mobile=graduated:{tiers}"),)),
        "t",
    )
    ledger.change_customer(
        "VOL", CustomerChanges(usage_prices=(parse_price(f"UK Mobile=volume:{tiers}"),)), "t"
    )
    rows = [
        *calls("TIER", "UK Mobile", [700, 700, 4000]),  # 5,400 min over three calls
        *calls("TIER", "France", [3]),  # no tiers: the switch's charge (0.0123)
        *calls("VOL", "UK Mobile", [1500]),
    ]
    import_cdrs(ledger, db, write_cdrs(tmp_path / "oct.csv", rows))
    report = run_billing(ledger, db, OCTOBER)
    assert report.count("created") == 2
    [tier] = invoices_of(ledger, "TIER")
    # grouped by destination (tiers are per destination), though TIER asked for days
    assert lines_of(tier) == [
        ("Calls to France (1 call)", D("3.00"), D("0.0041"), D("0.01")),
        ("Calls to UK Mobile (3 calls), 0–1,000 min", D("1000.00"), D("0.0100"), D("10.00")),
        ("Calls to UK Mobile, 1,000–5,000 min", D("4000.00"), D("0.0080"), D("32.00")),
        ("Calls to UK Mobile, 5,000+ min", D("400.00"), D("0.0060"), D("2.40")),
    ]
    [volume] = invoices_of(ledger, "VOL")
    assert lines_of(volume) == [
        (
            "Calls to UK Mobile (1 call), volume tier 1,000–5,000 min",
            D("1500.00"),
            D("0.0080"),
            D("12.00"),
        )
    ]
    # a second run bills nothing again
    assert run_billing(ledger, db, OCTOBER).count("created") == 0


def test_usage_below_the_commitment_is_topped_up_and_above_it_is_not(world):
    ledger, db, tmp_path = world
    ledger.change_customer("VOL", CustomerChanges(minimum_spend=D("10.00")), "t")
    trunk(ledger, "TIER", OCTOBER.start)
    ledger.change_package("Trunk", PackageChanges(minimum_spend=D("5.00")), "t")
    rows = [cdr("v1", "VOL", charge="2.50"), cdr("t1", "TIER", charge="100.00")]
    import_cdrs(ledger, db, write_cdrs(tmp_path / "oct.csv", rows))
    run_billing(ledger, db, OCTOBER)
    [vol] = invoices_of(ledger, "VOL")
    assert lines_of(vol)[-1] == (
        "Minimum commitment top-up (usage 2.50 of 10.00 GBP)",
        D(1),
        D("7.50"),
        D("7.50"),
    )
    assert vol.totals.net == D("10.00") and list(vol.lines.values())[-1].kind == "commitment"
    [tier] = invoices_of(ledger, "TIER")
    assert [line.kind for line in tier.lines.values()] == ["package", "setup", "usage"]


def test_a_commitment_is_prorated_for_a_part_month_period(world):
    ledger, db, _ = world
    ledger.change_customer("VOL", CustomerChanges(minimum_spend=D("31.00")), "t")
    report = run_billing(ledger, db, Period(OCTOBER.start, OCTOBER.start.replace(day=10)))
    [result] = [r for r in report.results if r.account == "VOL"]
    assert [(line.kind, line.unit_price) for line in result.lines] == [("commitment", D("10.00"))]


def test_charges_below_the_minimum_carry_forward_and_are_billed_once_later(world):
    ledger, db, tmp_path = world
    ledger.change_settings(SettingsChanges(minimum_invoice_amount=D("5.00")), "t")
    rows = [
        cdr("o1", "VOL", charge="0.0667"),  # October: 0.08 with tax, below 5.00
        cdr("n1", "VOL", start="2026-11-03T10:00:00Z", charge="10.00"),
    ]
    import_cdrs(ledger, db, write_cdrs(tmp_path / "cdrs.csv", rows))
    october = run_billing(ledger, db, OCTOBER, customers=["VOL"], issue=True)
    assert [(r.action, r.state) for r in october.results] == [
        ("carried forward", "carried forward")
    ]
    assert invoices_of(ledger, "VOL") == []
    again = run_billing(ledger, db, OCTOBER, customers=["VOL"])
    assert [r.action for r in again.results] == ["carried forward"]  # recorded once
    customer: Customer = ledger.customer("VOL")
    [carried] = customer.carried.values()
    assert carried.invoice_id == invoice_id_for(customer.id, OCTOBER)
    assert carried.total == D("0.08") and carried.billed_by is None

    dry = run_billing(ledger, db, NOVEMBER, customers=["VOL"], dry_run=True)
    assert [r.action for r in dry.results] == ["would create"]
    november = run_billing(ledger, db, NOVEMBER, customers=["VOL"], issue=True)
    [invoice] = invoices_of(ledger, "VOL")
    assert invoice.state == "issued" and november.results[0].number == invoice.number
    assert invoice.id == invoice_id_for(customer.id, NOVEMBER)
    assert [text for text, *_ in lines_of(invoice)] == [
        "Calls to UK Mobile (1 call)",
        "Calls to UK Mobile (1 call) (carried forward from 2026-10)",
    ]
    assert invoice.totals.net == D("10.07")
    assert november.results[0].takes == (carried.invoice_id,)
    assert ledger.customer("VOL").carried[carried.invoice_id].billed_by == invoice.id
    # neither November again nor December bills October a second time
    assert run_billing(ledger, db, NOVEMBER, customers=["VOL"]).count("created") == 0
    ledger.change_customer("VOL", CustomerChanges(minimum_spend=D("20.00")), "t")
    run_billing(ledger, db, DECEMBER, customers=["VOL"])
    december = [i for i in invoices_of(ledger, "VOL") if i.period_start == DECEMBER.start]
    assert [line.kind for line in december[0].lines.values()] == ["commitment"]
    events = ledger.events_of(customer.id)
    assert [type(e).__name__ for e in events].count("ChargesCarriedForward") == 1
    assert [type(e).__name__ for e in events].count("CarriedChargesBilled") == 1
    words = [describe(e) for e in events]  # the customer's history says what happened
    assert (
        "2026-10-01 to 2026-10-31: 0.08 GBP below the minimum invoice amount, carried"
        " forward (1 line)" in words
    )
    assert f"charges carried forward from 1 period billed on invoice {invoice.id}" in words


def test_a_customers_own_minimum_overrides_the_accounts(world):
    ledger, db, tmp_path = world
    ledger.change_settings(SettingsChanges(minimum_invoice_amount=D("5.00")), "t")
    ledger.change_customer("VOL", CustomerChanges(minimum_invoice_amount=D("0")), "t")
    import_cdrs(ledger, db, write_cdrs(tmp_path / "c.csv", [cdr("o1", "VOL", charge="0.07")]))
    assert [r.action for r in run_billing(ledger, db, OCTOBER).results] == ["created"]
