"""``tollbook schedule list|set|run-now`` and ``customer --schedule`` through the CLI."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from tests.integration.usage_helpers import trunk


def _months_back(today: date, count: int) -> date:
    """The 1st of the month ``count`` months before ``today``'s (negative: after)."""
    months = today.year * 12 + today.month - 1 - count
    return date(months // 12, months % 12 + 1, 1)


# December and January are where month arithmetic breaks (month 13, month 0); a leap day too.
@pytest.mark.parametrize(
    "now",
    [
        datetime(2026, 12, 5, 10, 0, tzinfo=UTC),
        datetime(2027, 1, 31, 10, 0, tzinfo=UTC),
        datetime(2028, 2, 29, 10, 0, tzinfo=UTC),
        datetime(2026, 10, 15, 10, 0, tzinfo=UTC),
    ],
    ids=str,
)
def test_schedule_set_list_and_run_now_bill_the_ended_months_once(
    tollbook, make_ledger, clock, now
):
    clock.set(now)
    ledger = make_ledger()
    assert tollbook("customer", "add", "ACME", "--name", "Acme", "--currency", "GBP").code == 0
    trunk(ledger, "ACME", date(2020, 1, 1))
    today = now.date()
    since = _months_back(today, 2)

    result = tollbook("schedule", "set", "ACME", "monthly:1", "--effective-from", str(since))
    assert result.code == 0, result.err
    [listed] = tollbook("schedule", "list", "--json").json()
    assert listed["schedule"] == "monthly:1" and listed["registered"] is True
    assert listed["next_run"].startswith(str(_months_back(today, -1)))  # the 1st of next month

    runs = tollbook("schedule", "run-now", "--json").json()
    assert [r["start"] for r in runs] == [str(since), str(_months_back(today, 1))]
    assert all(r["created"] == 1 for r in runs)
    again = tollbook("schedule", "run-now", "ACME", "--json").json()
    assert again == [{"account": "ACME", "period": None, "created": 0}]
    assert len(tollbook("invoice", "list", "--json").json()) == 2
    [listed] = tollbook("schedule", "list", "--json").json()
    assert listed["billed_through"] == str(date(today.year, today.month, 1) - timedelta(days=1))


def test_customer_schedule_option_is_validated_and_can_be_removed(tollbook):
    bad = tollbook("customer", "add", "X1", "--name", "X", "--schedule", "monthly:31")
    assert bad.code == 2 and "1 to 28" in bad.err
    assert tollbook("customer", "show", "X1").code == 3  # nothing half-written
    assert tollbook("customer", "add", "X1", "--name", "X", "--schedule", "weekly:5").code == 0
    shown = tollbook("customer", "show", "X1", "--json").json()
    assert shown["invoice_schedule"] == {"frequency": "weekly", "day": 5}
    assert tollbook("customer", "update", "X1", "--schedule", "none").code == 0
    assert tollbook("customer", "show", "X1", "--json").json()["invoice_schedule"] is None
    assert tollbook("schedule", "list", "--json").json() == []
