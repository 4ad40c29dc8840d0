"""PostgreSQL converts the usual CDR lines in SQL: every stored column, and every reject's
reason, must be what the Python rules (``parse_row``, used on SQLite) give for the same line."""

from __future__ import annotations

import csv
from itertools import product

import pytest

from adapters.queries import customer_currencies
from adapters.store.database import Database
from adapters.usage.cdr_csv import COLUMNS, RowRejected, parse_row
from adapters.usage.importer import import_cdrs
from adapters.usage.schema import CDR_COLUMNS
from tests.integration.usage_helpers import cdr, customers, write_cdrs

TIMES = [
    "2026-10-05T10:00:00Z",
    "2026-10-05 10:00:00",
    "2026-10-05T10:00:00",
    "2026-10-05T10:00:00+05:30",
    "2026-10-05T10:00:00-08:00",
    "2026-10-05T10:00:00+23:59",
    "2026-10-05T10:00:00+24:00",
    "2028-02-29T23:59:59Z",
    "2026-02-29T00:00:00Z",
    "2026-04-31T00:00:00Z",
    "2100-02-29T00:00:00Z",
    "2000-01-01T00:30:00+01:00",
    "2099-12-31T23:59:59-00:01",
    "2026-10-05T24:00:00Z",
    "2026-10-05T10:60:00Z",
    "2026-10-05T10:00:60Z",
    "2026-10-05t10:00:00z",
    "0000-01-01T00:00:00Z",
    "2026-10-05 10:00:00Z",
    "2026-10-05T10:00:00-00:00",
    "2026-10-05 10:00:00+05:30",
    "2026-10-05T1:00:00Z",
    "2026-10-5T10:00:00Z",
    "2026-10-05T10:00:00.5Z",
    "2026-10-05T10:00:00+0530",
    "2026-10-05T10:00:00+05:3",
    "2026-10-05T10:00:00+05:60",
    "2026-10-05X10:00:00",
    "1999-12-31T23:30:00-01:00",
    "2099-12-31T23:30:00-01:00",
    "2026-10-05T10:00:00ZZ",
    "2026-10-05T10:00",
]
RATES = ["0.0123", "0.00000001", "0.0000001", "0.00000000", "0.000001", "5.", ".5", "000.0123"]
RATES += ["1000000.00000000", "1000000.00000001", "0.123456789", ".", "1.2.3", "0"]
CHARGES = ["0.0123", "0.000001", "1000000", "1000000.000001", "000.5", ".", "", "12345678"]
SECONDS = ["0", "60", "000000604800", "604801", "0000000", "1234567"]


def lines() -> list[str]:
    made = [cdr(f"t{n}", start=t) for n, t in enumerate(TIMES)]
    made += [cdr(f"r{n}", rate=r) for n, r in enumerate(RATES)]
    made += [cdr(f"c{n}", charge=c) for n, c in enumerate(CHARGES)]
    made += [
        cdr(f"s{n}-{m}", duration=d, billed=b)  # type: ignore[arg-type]
        for (n, d), (m, b) in product(enumerate(SECONDS), enumerate(SECONDS[:3]))
    ]
    made += [
        cdr("x1", currency="gbp"),
        cdr("x2", currency="GBPX"),
        cdr("x3", account="PAR", currency="EUR", destination="Côte d’Ivoire"),
        cdr("x4", account="WHO"),
        cdr("x5", dialled="4" * 64, prefix="4" * 32, destination="D" * 100),
        cdr("x6", dialled="4" * 65),
        cdr("x7", destination=""),
        cdr("x8\\y"),  # a backslash: COPY's escape character
        cdr("x9", destination="back\\slash\\N"),
    ]
    return made


def test_sql_converts_exactly_as_python_does(make_ledger, store_url, tmp_path) -> None:
    ledger = make_ledger()
    customers(ledger, [("ACME", "GBP", "UTC", "destination"), ("PAR", "EUR", "UTC", "day")])
    db = Database.from_url(store_url)
    if db.dialect != "postgres":
        pytest.skip("SQLite parses every row in Python")
    rows = lines()
    path = write_cdrs(tmp_path / "edge.csv", rows)
    currencies = customer_currencies(ledger)
    expected_rows, expected_rejects = {}, {}
    for line_no, line in enumerate(rows, 2):
        try:
            parsed = parse_row(line_no, line.split(","), tuple(range(len(COLUMNS))), currencies)
            expected_rows[parsed[1]] = parsed[1:]
        except RowRejected as reason:
            expected_rejects[line_no] = str(reason)
    summary = import_cdrs(ledger, db, path)
    with db.connect() as conn:
        stored = {
            row[0]: tuple(row)
            for row in conn.execute(f"SELECT {', '.join(CDR_COLUMNS)} FROM usage_cdrs")
        }
    assert stored == expected_rows
    assert summary.rejected == len(expected_rejects)
    with open(summary.rejects_file or "", newline="", encoding="utf-8") as f:
        rejects = {int(r["line"]): r["reason"] for r in csv.DictReader(f)}
    assert rejects == expected_rejects
