"""Hostile ``--before`` months for ``tollbook usage purge``, on SQLite and PostgreSQL: each is
refused with exit code 2 and one line, and nothing is removed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from adapters.ledger.application import Ledger
from adapters.store.database import Database
from tests.e2e.conftest import Result
from tests.integration.usage_helpers import cdr, customers, write_cdrs

Tollbook = Callable[..., Result]

BAD_MONTHS = {
    "month-13": "2026-13",
    "month-zero": "2026-00",
    "one-digit-month": "2026-1",
    "two-digit-year": "26-10",
    "slash": "2026/10",
    "a-day": "2026-10-01",
    "empty": "",
    "words": "last month",
    "letter-o-for-zero": "2026-1O",
    "fullwidth-digits": "２０２６-１０",
    "arabic-indic-digits": "٢٠٢٦-١٠",
    "leading-space": " 2026-10",
    "trailing-newline": "2026-10\n",
    "nul": "2026-10\x00",
    "ansi-escape": "\x1b[31m2026-10",
    "negative-year": "-2026-10",
    "before-the-cdr-years": "1999-12",
    "after-the-cdr-years": "2101-01",
    "year-9999": "9999-12",
    "ten-thousand-characters": "2" * 10_000,
    "sql": "2026-10'; DROP TABLE usage_cdrs; --",
}


@pytest.fixture
def ledger(make_ledger: Callable[[], Ledger]) -> Ledger:
    built = make_ledger()
    customers(built, [("ACME", "GBP", "UTC", "destination")])
    return built


@pytest.mark.parametrize("month", list(BAD_MONTHS.values()), ids=list(BAD_MONTHS))
def test_a_hostile_month_is_refused_with_one_line_and_nothing_is_removed(
    ledger: Ledger, tollbook: Tollbook, store_url: str, tmp_path: Path, month: str
) -> None:
    path = write_cdrs(tmp_path / "c.csv", [cdr("s1", start="2026-09-10T10:00:00Z")])
    assert tollbook("usage", "import", str(path)).code == 0
    result = tollbook("usage", "purge", "--before", month, "--force")
    assert result.code == 2, result.err
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert lines[0].endswith("[invalid_input]")
    assert len(lines[0]) < 200  # a long argument is quoted by its start only
    assert lines[0].isprintable()
    with Database.from_url(store_url).connect() as conn:
        assert [r[0] for r in conn.execute("SELECT call_id FROM usage_cdrs")] == ["s1"]


def test_the_month_is_required(ledger: Ledger, tollbook: Tollbook) -> None:
    result = tollbook("usage", "purge")
    assert result.code == 2 and "--before" in result.err
