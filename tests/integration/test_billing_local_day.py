"""The local day a call is billed on (grouping ``day``), through the billing run, in many
time zones and at the instants where it is easiest to get wrong: either side of every local
midnight and of every clock change, in zones whose clocks change at midnight (the repeated or
skipped hour across the day's end belongs to the day its UTC instant falls in), with offsets
that are not whole hours, and over periods with two clock changes."""

from __future__ import annotations

import random
from bisect import bisect_right
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, available_timezones

import pytest

from adapters.store.database import Database
from adapters.usage.billing import run_billing
from adapters.usage.importer import import_cdrs
from domain.usage import Period, local_midnight, utc_window
from domain.values import time_zone
from tests.integration.usage_helpers import cdr, customers, write_cdrs

#: Zones with clock changes at midnight (Havana, Santiago, Cairo, Beirut, Asuncion, Gaza),
#: non-hour offsets (Kathmandu, Chatham, Eucla), a 30-minute DST (Lord_Howe), two changes a
#: year around Ramadan (Casablanca), and the usual ones.
NAMED = [
    "America/Havana",
    "America/Santiago",
    "Africa/Cairo",
    "Asia/Beirut",
    "America/Asuncion",
    "Asia/Gaza",
    "Asia/Kathmandu",
    "Pacific/Chatham",
    "Australia/Eucla",
    "Australia/Lord_Howe",
    "Africa/Casablanca",
    "Europe/London",
    "America/New_York",
    "UTC",
]

#: Periods of a few months, each with two clock changes in many zones (spring in one
#: hemisphere, autumn in the other), and the December in which Samoa skipped a day.
PERIODS = [
    (Period(date(2026, 2, 1), date(2026, 4, 30)), 8),
    (Period(date(2026, 9, 1), date(2026, 11, 30)), 8),
    (Period(date(2011, 12, 1), date(2011, 12, 31)), 0),
]
SAMOA = ["Pacific/Apia", "Pacific/Fakaofo", "Pacific/Kiritimati", "Pacific/Pago_Pago"]


def accepted_zones() -> list[str]:
    """Every zone zoneinfo knows that the product accepts for a customer."""
    accepted = []
    for name in sorted(available_timezones()):
        try:
            accepted.append(time_zone(name))
        except Exception:
            continue
    return accepted


def changes(zone: str, start: int, end: int) -> list[int]:
    """UTC instants in [start, end) at which the zone's offset changes (to the second)."""
    info = ZoneInfo(zone)

    def offset(epoch: int) -> timedelta | None:
        return datetime.fromtimestamp(epoch, UTC).astimezone(info).utcoffset()

    found = []
    step = 900
    for at in range(start, end, step):
        low, high = at, min(at + step, end)
        if offset(low) != offset(high - 1):
            while high - low > 1:  # the first second of the new offset
                middle = (low + high) // 2
                if offset(middle) == offset(low):
                    low = middle
                else:
                    high = middle
            found.append(high)
    return found


def instants(period: Period, zone: str) -> list[int]:
    """Seconds either side of every local midnight of the window and, near a clock change,
    the hours either side of it too; a few seconds outside the window (not billed)."""
    start, end = (int(bound.timestamp()) for bound in utc_window(period, zone))
    days = [int(local_midnight(day, zone).timestamp()) for day in period.each_day()]
    moved = changes(zone, start, end)
    near = {edge + delta for edge in [*days, end] for delta in (-1, 0)}
    # the hours around a clock change and the midnights within two days of one
    for edge in [*days, end, *moved]:
        if any(abs(edge - change) <= 2 * 86_400 for change in moved):
            near.update(edge + delta for delta in (-3601, -1800, -1, 0, 1, 1799, 3600))
    return sorted(near)


def expected_day(period: Period, zone: str, epoch: int) -> date | None:
    """The local day whose local midnight (zoneinfo's, by UTC instant) is the last at or
    before ``epoch``; ``None`` outside the period."""
    start, end = (int(bound.timestamp()) for bound in utc_window(period, zone))
    if not start <= epoch < end:
        return None
    days = list(period.each_day())
    starts = [int(local_midnight(day, zone).timestamp()) for day in days]
    return days[bisect_right(starts, epoch) - 1]


@pytest.mark.parametrize(("period", "sampled"), PERIODS, ids=["feb-apr", "sep-nov", "samoa"])
def test_each_call_is_billed_on_its_local_day_in_every_kind_of_zone(
    make_ledger, store_url, tmp_path, period, sampled
):
    zones = SAMOA if sampled == 0 else NAMED
    others = [z for z in accepted_zones() if z not in zones]
    # a different sample each period, the same each run (a failure can be re-run)
    zones = [*zones, *random.Random(f"{period}").sample(others, sampled)]
    ledger = make_ledger()
    accounts = [f"Z{n:03d}" for n in range(len(zones))]
    customers(ledger, [(a, "GBP", z, "day") for a, z in zip(accounts, zones, strict=True)])
    rows, expected = [], {}
    for account, zone in zip(accounts, zones, strict=True):
        days: Counter[str] = Counter()
        for epoch in instants(period, zone):
            stamp = datetime.fromtimestamp(epoch, UTC)
            if not 2000 <= stamp.year <= 2099:
                continue
            rows.append(cdr(f"{account}-{epoch}", account, stamp.strftime("%Y-%m-%dT%H:%M:%SZ")))
            day = expected_day(period, zone, epoch)
            if day is not None:
                days[str(day)] += 1
        expected[account] = dict(days)
    db = Database.from_url(store_url)
    import_cdrs(ledger, db, write_cdrs(tmp_path / "calls.csv", rows))

    report = run_billing(ledger, db, period, dry_run=True)

    billed = {
        result.account: {
            str(line.period_start): line.source.calls
            for line in result.lines
            if line.kind == "usage" and line.source is not None
        }
        for result in report.results
    }
    for account, zone in zip(accounts, zones, strict=True):
        assert billed.get(account, {}) == expected[account], zone
