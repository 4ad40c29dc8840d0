"""``tollbook usage purge --before YYYY-MM`` on both stores: whole months of CDRs go (on
PostgreSQL their partitions are dropped), usage not billed yet is refused unless --force,
and what was removed is printed."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from adapters.ledger.application import Ledger
from adapters.ledger.folds import LogFolds
from adapters.store.database import Database
from tests.e2e.conftest import Result
from tests.integration.usage_helpers import cdr, customers, write_cdrs

Tollbook = Callable[..., Result]


@pytest.fixture
def ledger(make_ledger: Callable[[], Ledger]) -> Ledger:
    built = make_ledger()
    customers(built, [("ACME", "GBP", "UTC", "destination"), ("PAR", "EUR", "Europe/Paris", "day")])
    return built


def stored(url: str) -> list[str]:
    with Database.from_url(url).connect() as conn:
        return [row[0] for row in conn.execute("SELECT call_id FROM usage_cdrs ORDER BY call_id")]


def partitions(url: str) -> list[str]:
    db = Database.from_url(url)
    if db.dialect != "postgres":
        return []
    with db.connect() as conn:
        return [
            row[0]
            for row in conn.execute(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                " WHERE i.inhparent = 'usage_cdrs'::regclass ORDER BY 1"
            )
        ]


def three_months(tollbook: Tollbook, tmp_path: Path) -> None:
    rows = [
        cdr("s1", start="2026-09-10T10:00:00Z"),
        cdr("s2", account="PAR", currency="EUR", start="2026-09-20T10:00:00Z"),
        cdr("o1", start="2026-10-05T10:00:00Z"),
        cdr("n1", start="2026-11-02T10:00:00Z"),
    ]
    result = tollbook("usage", "import", str(write_cdrs(tmp_path / "cdrs.csv", rows)))
    assert result.code == 0, result.err


def test_usage_not_billed_is_refused_and_nothing_is_removed(
    ledger: Ledger, tollbook: Tollbook, store_url: str, tmp_path: Path
) -> None:
    three_months(tollbook, tmp_path)
    before = partitions(store_url)
    result = tollbook("usage", "purge", "--before", "2026-11")
    assert result.code == 1, result.err
    assert result.err.strip().endswith("[unbilled_usage]")
    assert "ACME" in result.err and "PAR" in result.err and "nothing was removed" in result.err
    assert stored(store_url) == ["n1", "o1", "s1", "s2"]
    assert partitions(store_url) == before


def test_billed_months_are_removed_whole_and_reported(
    ledger: Ledger, tollbook: Tollbook, store_url: str, tmp_path: Path
) -> None:
    three_months(tollbook, tmp_path)
    if store_url.startswith("postgresql"):
        assert partitions(store_url) == [
            "usage_cdrs_y2026m09",
            "usage_cdrs_y2026m10",
            "usage_cdrs_y2026m11",
        ]
    for period in ("2026-08", "2026-09", "2026-10"):  # PAR's September starts in August UTC
        assert tollbook("bill", "--period", period).code == 0
    result = tollbook("usage", "purge", "--before", "2026-11", "--json")
    assert result.code == 0, result.err
    assert json.loads(result.out) == {
        "before": "2026-11",
        "months": [{"month": "2026-09", "cdrs": 2}, {"month": "2026-10", "cdrs": 1}],
        "cdrs": 3,
        "unbilled_removed": [],
    }
    assert stored(store_url) == ["n1"]
    if store_url.startswith("postgresql"):
        assert partitions(store_url) == ["usage_cdrs_y2026m11"]
    # the purged call ids are gone with their months; a November repeat is still one
    again = tollbook(
        "usage",
        "import",
        str(write_cdrs(tmp_path / "again.csv", [cdr("n1", start="2026-11-02T10:00:00Z")])),
        "--json",
    )
    assert (again.json()[0]["inserted"], again.json()[0]["duplicates"]) == (0, 1)
    text = tollbook("usage", "purge", "--before", "2026-11")
    assert text.code == 0 and "no CDRs before 2026-11: nothing removed" in text.out


def test_force_removes_usage_not_billed_and_says_so(
    ledger: Ledger, tollbook: Tollbook, store_url: str, tmp_path: Path
) -> None:
    three_months(tollbook, tmp_path)
    assert tollbook("bill", "--period", "2026-09").code == 0  # October stays unbilled
    result = tollbook("usage", "purge", "--before", "2026-11", "--force")
    assert result.code == 0, result.err
    assert "2026-09" in result.out and "2026-10" in result.out
    assert "3 CDRs of 2 months removed" in result.out
    assert "not billed, removed anyway (--force): ACME, 1 calls" in result.out
    assert stored(store_url) == ["n1"]


def test_a_voided_invoice_does_not_count_as_billed(
    ledger: Ledger, tollbook: Tollbook, store_url: str, tmp_path: Path
) -> None:
    rows = [cdr("o1", start="2026-10-05T10:00:00Z")]
    assert tollbook("usage", "import", str(write_cdrs(tmp_path / "o.csv", rows))).code == 0
    assert tollbook("bill", "--period", "2026-10", "--issue").code == 0
    (invoice,) = [i for i in LogFolds(ledger).invoices() if i.state == "issued"]
    ledger.void_invoice(invoice.id, "t", "wrong")
    result = tollbook("usage", "purge", "--before", "2026-11")
    assert result.code == 1 and "[unbilled_usage]" in result.err
    assert stored(store_url) == ["o1"]
