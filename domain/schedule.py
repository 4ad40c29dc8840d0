"""Invoice schedules: when a customer is billed, and which period each run bills.

A schedule runs on *boundary* days, in the customer's own time zone: every day (``daily``),
one weekday (``weekly``, day 1 = Monday .. 7 = Sunday) or one day of the month (``monthly``,
day 1..28, so that every month has it). Each run bills the period that ended the day before:
from the previous boundary to the day before this one, both inclusive.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Literal

from pydantic import model_validator

from domain.errors import InvalidInput
from domain.values import Frozen

Frequency = Literal["daily", "weekly", "monthly"]
FREQUENCIES: tuple[Frequency, ...] = ("daily", "weekly", "monthly")
#: The days a schedule of each frequency may run on (weekly: 1 Monday .. 7 Sunday).
DAY_RANGES = {"daily": (1, 1), "weekly": (1, 7), "monthly": (1, 28)}


class InvoiceSchedule(Frozen):
    """Bill this customer automatically: ``monthly`` on ``day`` 1 bills each calendar month."""

    frequency: Frequency
    day: int = 1

    @model_validator(mode="after")
    def _day_fits(self) -> InvoiceSchedule:
        low, high = DAY_RANGES[self.frequency]
        if not low <= self.day <= high:
            raise ValueError(_range_text(self.frequency))
        return self

    @classmethod
    def parse(cls, text: str) -> InvoiceSchedule:
        """``daily``, ``weekly:1`` (Monday), ``monthly:1``; refuses anything else clearly."""
        frequency, _, day = text.strip().lower().partition(":")
        if frequency not in FREQUENCIES:
            raise InvalidInput(
                f"invoice schedule must be daily, weekly:DAY or monthly:DAY, got {text!r}"
            )
        if not day:
            day = "1"
        if not day.isdigit():
            raise InvalidInput(f"invoice schedule day must be a whole number, got {day!r}")
        low, high = DAY_RANGES[frequency]
        if not low <= int(day) <= high:
            raise InvalidInput(_range_text(frequency))
        return cls(frequency=frequency, day=int(day))

    @property
    def text(self) -> str:
        return "daily" if self.frequency == "daily" else f"{self.frequency}:{self.day}"

    def boundary_on_or_before(self, day: date) -> date:
        """The latest run day not after ``day``."""
        if self.frequency == "daily":
            return day
        if self.frequency == "weekly":
            return day - timedelta(days=(day.isoweekday() - self.day) % 7)
        if day.day >= self.day:
            return day.replace(day=self.day)
        return _month_before(day).replace(day=self.day)

    def previous_boundary(self, boundary: date) -> date:
        """The run day before the run day ``boundary``."""
        if self.frequency == "daily":
            return boundary - timedelta(days=1)
        if self.frequency == "weekly":
            return boundary - timedelta(days=7)
        return _month_before(boundary).replace(day=self.day)

    def last_ended_period(self, today: date) -> tuple[date, date]:
        """The most recent period that ended before ``today`` (first and last day)."""
        boundary = self.boundary_on_or_before(today)
        return self.previous_boundary(boundary), boundary - timedelta(days=1)

    def ended_periods(self, after: date, today: date, limit: int = 400) -> list[tuple[date, date]]:
        """Every period ending after ``after`` and before ``today``, oldest first. A period
        that straddles ``after`` (the schedule changed) starts the day after it, so no day is
        billed twice."""
        periods: list[tuple[date, date]] = []
        boundary = self.boundary_on_or_before(today)
        while len(periods) < limit:
            start = self.previous_boundary(boundary)
            end = boundary - timedelta(days=1)
            if end <= after:
                break
            periods.append((max(start, after + timedelta(days=1)), end))
            boundary = start
        return periods[::-1]


def _month_before(day: date) -> date:
    first = day.replace(day=1)
    return (first - timedelta(days=1)).replace(day=1)


def _range_text(frequency: str) -> str:
    if frequency == "daily":
        return "a daily schedule takes no day"
    if frequency == "weekly":
        return "a weekly schedule's day is 1 (Monday) to 7 (Sunday)"
    return "a monthly schedule's day is 1 to 28 (every month has it)"
