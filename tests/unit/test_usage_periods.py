"""Billing periods, time-zone windows, proration and usage lines (domain/usage.py, pure)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal as D
from itertools import pairwise
from uuid import uuid4, uuid5

import pytest

from domain.customer import Assignment
from domain.errors import InvalidDate
from domain.invoice_line import totals_of
from domain.package import PackageTerms
from domain.usage import (
    Period,
    UsageScope,
    UsageTotal,
    charged_fraction,
    day_boundaries,
    invoice_id_for,
    line_id_for,
    package_lines,
    usage_digest,
    usage_lines,
    utc_window,
)

OCTOBER = Period.month("2026-10")
TRUNK = PackageTerms(name="Trunk", currency="GBP", unit_price=D("120.00"), setup_price=D("250"))


def assignment(start: date, end: date | None = None, quantity: str = "1") -> Assignment:
    return Assignment(
        assignment_id=uuid4(),
        package_id=uuid4(),
        quantity=D(quantity),
        start_date=start,
        end_date=end,
    )


def test_a_month_period_runs_from_the_first_to_the_last_day():
    assert (OCTOBER.start, OCTOBER.end, OCTOBER.days, OCTOBER.label) == (
        date(2026, 10, 1),
        date(2026, 10, 31),
        31,
        "2026-10",
    )
    with pytest.raises(InvalidDate):
        Period.month("2026-13")
    with pytest.raises(InvalidDate):
        Period(date(2026, 10, 2), date(2026, 10, 1))


def test_a_utc_plus_one_customers_october_ends_at_2300_utc_on_the_31st():
    start, end = utc_window(OCTOBER, "Europe/Paris")
    # CEST (+2) on 1 October, CET (+1) after the clocks go back on 25 October
    assert start == datetime(2026, 9, 30, 22, 0, tzinfo=UTC)
    assert end == datetime(2026, 10, 31, 23, 0, tzinfo=UTC)
    call = datetime(2026, 10, 31, 23, 30, tzinfo=UTC)
    assert not (start <= call < end)


def test_local_days_follow_daylight_saving_changes():
    bounds = day_boundaries(OCTOBER, "Europe/Paris")
    assert len(bounds) == 31
    lengths = [b - a for a, b in pairwise(bounds)]
    assert lengths.count(86400) == 29 and 90000 in lengths  # 25 October lasts 25 hours


def test_a_full_month_costs_the_monthly_price_and_a_part_month_is_prorated_by_days():
    assert charged_fraction(assignment(date(2026, 1, 1)), TRUNK, OCTOBER) == 1
    half = charged_fraction(assignment(date(2026, 10, 15), date(2026, 10, 31)), TRUNK, OCTOBER)
    assert half == D(17) / 31
    ended = charged_fraction(assignment(date(2026, 1, 1), date(2026, 10, 10)), TRUNK, OCTOBER)
    assert ended == D(10) / 31
    assert charged_fraction(assignment(date(2026, 11, 1)), TRUNK, OCTOBER) == 0


def test_a_two_month_period_charges_each_calendar_month_by_its_own_length():
    period = Period(date(2026, 10, 16), date(2026, 11, 30))
    fraction = charged_fraction(assignment(date(2026, 1, 1)), TRUNK, period)
    assert fraction == D(16) / 31 + 1


def test_daily_and_weekly_packages_are_charged_per_active_day():
    daily = TRUNK.model_copy(update={"frequency": "daily"})
    weekly = TRUNK.model_copy(update={"frequency": "weekly"})
    a = assignment(date(2026, 10, 25))
    assert charged_fraction(a, daily, OCTOBER) == 7
    assert charged_fraction(a, weekly, OCTOBER) == 1


def test_package_lines_prorate_and_bill_setup_once_in_the_starting_period():
    a = assignment(date(2026, 10, 15), quantity="2")
    invoice_id = uuid4()
    lines = package_lines(invoice_id, OCTOBER, [a], {a.package_id: TRUNK}, D(20), "VAT")
    assert [(line.kind, line.description) for line in lines] == [
        ("package", "Trunk (17 of 31 days)"),
        ("setup", "Trunk (setup)"),
    ]
    assert lines[0].net("GBP") == D("131.61")  # 2 x 120 x 17/31 = 131.6129...
    assert lines[0].source and lines[0].source.days == 17
    assert lines[1].net("GBP") == D("500.00")
    november = package_lines(
        invoice_id, Period.month("2026-11"), [a], {a.package_id: TRUNK}, D(20), "VAT"
    )
    assert [line.kind for line in november] == ["package"]
    assert november[0].description == "Trunk" and november[0].unit_price == D("120.00")


def scope(after: int = 0, through: int = 3) -> UsageScope:
    return UsageScope(OCTOBER, "UTC", after, through)


def test_destination_grouping_makes_one_line_per_destination_with_the_exact_charge():
    totals = [
        UsageTotal("UK Mobile", 3, 185, 37_950, 11),
        UsageTotal("France", 1, 60, 10_000, 7),
    ]
    lines = usage_lines(uuid4(), totals, "destination", scope(), D(20), "VAT", "GBP")
    assert [line.description for line in lines] == [
        "Calls to France (1 call)",
        "Calls to UK Mobile (3 calls)",
    ]
    # 3.08 min x 0.01232143 = 0.0379500... -> 0.04: minutes x average rate = the summed charge
    assert (lines[1].quantity, lines[1].unit, lines[1].unit_price) == (
        D("3.08"),
        "min",
        D("0.01232143"),
    )
    assert lines[1].net("GBP") == D("0.04")
    source = lines[1].source
    assert source is not None
    assert (source.key, source.calls, source.billed_seconds) == ("destination:UK Mobile", 3, 185)
    assert source.digest == usage_digest(3, 185, 37_950, 11)
    assert (source.after_batch, source.through_batch) == (0, 3)


def test_day_grouping_dates_each_line_and_none_grouping_makes_one_line():
    days = usage_lines(
        uuid4(),
        [UsageTotal(30, 1, 60, 1_000_000, 1), UsageTotal(0, 2, 120, 2_000_000, 2)],
        "day",
        scope(),
        D(0),
        "",
        "GBP",
    )
    assert [(line.period_start, line.period_end) for line in days] == [
        (date(2026, 10, 1), date(2026, 10, 1)),
        (date(2026, 10, 31), date(2026, 10, 31)),
    ]
    assert totals_of(days, "GBP").net == D("3.00")
    single = usage_lines(
        uuid4(), [UsageTotal("", 3, 180, 3_000_000, 3)], "none", scope(), D(0), "", "GBP"
    )
    assert [line.description for line in single] == ["Calls 2026-10 (3 calls)"]
    assert (single[0].quantity, single[0].unit_price) == (D("3.00"), D(1))


def test_the_invoice_id_of_a_customer_and_period_is_deterministic():
    customer = uuid4()
    assert invoice_id_for(customer, OCTOBER) == invoice_id_for(customer, Period.month("2026-10"))
    assert invoice_id_for(customer, OCTOBER) != invoice_id_for(customer, Period.month("2026-11"))
    assert invoice_id_for(customer, OCTOBER, 0) != invoice_id_for(customer, OCTOBER)


@pytest.mark.parametrize("key", ["usage:destination:UK Mobile", "usage:day:2026-10-01", "usage:é☎"])
def test_line_ids_are_the_uuid5_of_the_invoice_and_key_that_earlier_runs_made(key):
    invoice_id = uuid4()
    assert line_id_for(invoice_id, key) == uuid5(invoice_id, key)
    assert line_id_for(invoice_id, key).version == 5
