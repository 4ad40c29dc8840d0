"""Invoice schedules: parsing, run days, and which periods a run bills."""

from __future__ import annotations

import re
from datetime import date

import pytest

from domain.errors import InvalidInput
from domain.schedule import InvoiceSchedule


def test_parse_reads_the_three_frequencies():
    assert InvoiceSchedule.parse("monthly:16") == InvoiceSchedule(frequency="monthly", day=16)
    assert InvoiceSchedule.parse("Weekly:7").text == "weekly:7"
    assert InvoiceSchedule.parse("daily").text == "daily"
    assert InvoiceSchedule.parse("monthly").day == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("yearly:1", "must be daily, weekly:DAY or monthly:DAY"),
        ("monthly:29", "1 to 28"),
        ("monthly:0", "1 to 28"),
        ("weekly:8", "1 (Monday) to 7 (Sunday)"),
        ("daily:3", "takes no day"),
        ("monthly:x", "whole number"),
    ],
)
def test_parse_refuses_what_it_cannot_run(text, message):
    with pytest.raises(InvalidInput, match=re.escape(message)):
        InvoiceSchedule.parse(text)


def test_monthly_on_the_first_bills_the_previous_calendar_month():
    schedule = InvoiceSchedule.parse("monthly:1")
    assert schedule.last_ended_period(date(2026, 11, 1)) == (date(2026, 10, 1), date(2026, 10, 31))
    assert schedule.last_ended_period(date(2026, 11, 30)) == (
        date(2026, 10, 1),
        date(2026, 10, 31),
    )
    assert schedule.last_ended_period(date(2026, 3, 1)) == (date(2026, 2, 1), date(2026, 2, 28))


def test_monthly_mid_month_bills_from_the_day_a_month_before():
    schedule = InvoiceSchedule.parse("monthly:16")
    assert schedule.last_ended_period(date(2026, 11, 20)) == (
        date(2026, 10, 16),
        date(2026, 11, 15),
    )
    assert schedule.last_ended_period(date(2026, 1, 10)) == (
        date(2025, 11, 16),
        date(2025, 12, 15),
    )


def test_weekly_bills_the_seven_days_before_the_run_day():
    schedule = InvoiceSchedule.parse("weekly:1")  # Mondays
    # 2026-11-26 is a Thursday; the last Monday was 23 November
    assert schedule.last_ended_period(date(2026, 11, 26)) == (
        date(2026, 11, 16),
        date(2026, 11, 22),
    )
    assert schedule.last_ended_period(date(2026, 11, 23)) == (
        date(2026, 11, 16),
        date(2026, 11, 22),
    )


def test_daily_bills_yesterday():
    schedule = InvoiceSchedule.parse("daily")
    assert schedule.last_ended_period(date(2026, 1, 1)) == (date(2025, 12, 31), date(2025, 12, 31))


def test_ended_periods_lists_every_missed_period_oldest_first():
    schedule = InvoiceSchedule.parse("monthly:1")
    periods = schedule.ended_periods(date(2026, 7, 31), date(2026, 11, 3))
    assert periods == [
        (date(2026, 8, 1), date(2026, 8, 31)),
        (date(2026, 9, 1), date(2026, 9, 30)),
        (date(2026, 10, 1), date(2026, 10, 31)),
    ]
    assert schedule.ended_periods(date(2026, 10, 31), date(2026, 11, 3)) == []


def test_a_period_straddling_what_is_billed_starts_after_it():
    # billed monthly through 31 October, then switched to weekly (Mondays)
    schedule = InvoiceSchedule.parse("weekly:1")
    periods = schedule.ended_periods(date(2026, 10, 31), date(2026, 11, 10))
    assert periods == [
        (date(2026, 11, 1), date(2026, 11, 1)),  # the rest of the week of 26 October
        (date(2026, 11, 2), date(2026, 11, 8)),
    ]
