"""The billing run's usage sums: the same invoices however PostgreSQL's table is sliced or the
customers are chunked, and planner statistics gathered first when the usage table has none."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from adapters.store.database import Database
from adapters.usage import billing
from adapters.usage.billing import analyse_if_stale, run_billing
from adapters.usage.importer import import_cdrs
from domain.usage import Period
from tests.integration.usage_helpers import cdr, customers, write_cdrs

OCTOBER = Period.month("2026-10")
ACCOUNTS = [
    ("DST", "GBP", "Europe/London", "destination"),
    ("DAY", "GBP", "America/New_York", "day"),
    ("PAR", "GBP", "Europe/Paris", "day"),
    ("ALL", "GBP", "UTC", "none"),
]


@pytest.fixture
def world(make_ledger, store_url, tmp_path):
    ledger = make_ledger()
    customers(ledger, ACCOUNTS)
    first = datetime(2026, 9, 30, 20, tzinfo=UTC)
    rows = [
        cdr(
            f"c{n}",
            ACCOUNTS[n % 4][0],
            # every 47 minutes from 30 September 20:00 UTC to 1 November ~23:00: both ends of
            # every zone's month, and the DST changes of 25 October and 1 November
            start=(first + timedelta(minutes=47 * n)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            destination=("UK Mobile", "France", "1-800 Freephone")[n % 3],
            charge=f"0.{n % 97:04d}",
            billed=60 * (1 + n % 5),
        )
        for n in range(1000)
    ]
    db = Database.from_url(store_url)
    import_cdrs(ledger, db, write_cdrs(tmp_path / "oct.csv", rows))
    return ledger, db


def planned(ledger, db) -> list[tuple[str, list[tuple[str, str, int]]]]:
    report = run_billing(ledger, db, OCTOBER, dry_run=True)
    return [
        (
            result.account,
            [
                (line.description, str(line.unit_price), line.source.calls if line.source else 0)
                for line in result.lines
            ],
        )
        for result in report.results
    ]


def test_the_table_read_in_slices_sums_exactly_what_one_read_sums(world, monkeypatch):
    ledger, db = world
    whole = planned(ledger, db)
    monkeypatch.setattr(billing, "PAGES_PER_SLICE", 1)  # PostgreSQL: 3 slices of a few pages
    assert planned(ledger, db) == whole
    assert [account for account, _ in whole] == ["DST", "DAY", "PAR", "ALL"]
    calls = {account: sum(c for _, _, c in lines) for account, lines in whole}
    # 1,000 calls, 250 each, less those outside each customer's own month
    assert all(200 < n <= 250 for n in calls.values()), calls
    day_lines = [d for d, _, _ in dict(whole)["PAR"]]
    assert any("2026-10-25" in d for d in day_lines)  # the 25-hour day in Paris
    assert any("1-800 Freephone" in d for d, _, _ in dict(whole)["DST"])


def test_customers_summed_and_planned_a_few_at_a_time_get_the_same_invoices(world, monkeypatch):
    ledger, db = world
    whole = planned(ledger, db)
    monkeypatch.setattr(billing, "TARGETS_PER_QUERY", 3)  # two chunks: 3 customers, then 1
    monkeypatch.setattr(billing, "FOLD_ROWS", 7)  # the sums' rows folded 7 at a time
    monkeypatch.setattr(billing, "PAGES_PER_SLICE", 1)
    assert planned(ledger, db) == whole
    report = run_billing(ledger, db, OCTOBER)  # and saved so, in the customers' order
    assert [(r.account, r.action, r.line_count) for r in report.results] == [
        (account, "created", len(lines)) for account, lines in whole
    ]


def test_a_run_gathers_planner_statistics_of_a_usage_table_without_any(world, store_url):
    ledger, db = world
    if db.dialect != "postgres":
        assert analyse_if_stale(db) is False  # SQLite: nothing to do
        return
    with db.connect() as conn:
        # the whole table: its parent and, partitioned by month, every month's partition
        conn.execute(
            "DELETE FROM pg_statistic WHERE starelid IN"
            " (SELECT relid FROM pg_partition_tree('usage_cdrs'))"
        )
    run_billing(ledger, db, OCTOBER)
    with db.connect() as conn:
        (count,) = conn.execute(
            "SELECT COUNT(*) FROM pg_stats WHERE tablename = 'usage_cdrs'"
            " AND schemaname = current_schema()"
        ).fetchone()
    assert count > 0
    assert analyse_if_stale(db) is False  # fresh now: no second ANALYZE
