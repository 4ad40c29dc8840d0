"""CDR import on SQLite and PostgreSQL: bulk load, idempotency, rejects, corrupt files."""

from __future__ import annotations

import csv
import gzip

import pytest

from adapters.store.database import Database
from adapters.usage import pg_stage
from adapters.usage.cdr_csv import CorruptUsageFile
from adapters.usage.importer import import_cdrs
from tests.integration.usage_helpers import HEADER, cdr, customers, write_cdrs


@pytest.fixture
def setup(make_ledger, store_url):
    ledger = make_ledger()
    customers(
        ledger, [("ACME", "GBP", "UTC", "destination"), ("PAR", "EUR", "Europe/Paris", "day")]
    )
    return ledger, Database.from_url(store_url)


def stored(db: Database) -> list[tuple]:
    with db.connect() as conn:
        return [
            tuple(row)
            for row in conn.execute(
                "SELECT call_id, account, billed_seconds, charge_micros, batch"
                " FROM usage_cdrs ORDER BY call_id"
            )
        ]


def test_a_gzip_file_is_imported_and_importing_it_again_adds_nothing(setup, tmp_path):
    ledger, db = setup
    path = write_cdrs(
        tmp_path / "oct.csv.gz",
        [cdr("a1"), cdr("a2", charge="1.5", billed=120), cdr("p1", account="PAR", currency="eur")],
        gzipped=True,
    )
    first = import_cdrs(ledger, db, path)
    assert (first.rows, first.inserted, first.duplicates, first.rejected) == (3, 3, 0, 0)
    assert first.rejects_file is None and not first.same_file_imported_before
    again = import_cdrs(ledger, db, path)
    assert (again.rows, again.inserted, again.duplicates, again.rejected) == (3, 0, 3, 0)
    assert again.same_file_imported_before
    assert stored(db) == [
        ("a1", "ACME", 60, 12_300, 1),
        ("a2", "ACME", 120, 1_500_000, 1),
        ("p1", "PAR", 60, 12_300, 1),
    ]


@pytest.mark.parametrize("chunk_rows", [pg_stage.CHUNK_ROWS, 2])
def test_bad_rows_go_to_the_rejects_file_with_line_and_reason_and_good_rows_still_load(
    setup, tmp_path, monkeypatch, chunk_rows
):
    # chunk_rows 2: on PostgreSQL each call id's repeats land in other chunks than its first
    monkeypatch.setattr(pg_stage, "CHUNK_ROWS", chunk_rows)
    ledger, db = setup
    import_cdrs(ledger, db, write_cdrs(tmp_path / "old.csv", [cdr("old", charge="0.01")]))
    path = write_cdrs(
        tmp_path / "mixed.csv",
        [
            cdr("ok1"),
            cdr("t1", start="yesterday"),
            cdr("d1", duration=-5),
            cdr("u1", account="NOBODY"),
            cdr("c1", currency="EUR"),
            cdr("ok1"),  # identical repeat: a duplicate, not a reject
            cdr("ok1", charge="9.99"),  # same id, different content
            cdr("old", charge="0.02"),  # already stored with different content
            cdr("n1", charge="0.0000001"),
            "short,row",
            cdr("ok2", account="PAR", currency="EUR", start="2026-10-31 23:30:00"),
        ],
    )
    summary = import_cdrs(ledger, db, path)
    assert (summary.rows, summary.inserted, summary.duplicates, summary.rejected) == (11, 2, 1, 8)
    with open(summary.rejects_file, newline="", encoding="utf-8") as f:
        rejects = [(row["line"], row["call_id"], row["reason"]) for row in csv.DictReader(f)]
    # rows refused while reading come first, call-id conflicts found in SQL after them
    assert sorted(rejects, key=lambda r: int(r[0])) == [
        ("3", "t1", "unparseable start_time 'yesterday'"),
        ("4", "d1", "negative duration -5"),
        ("5", "u1", "unknown customer account 'NOBODY'"),
        ("6", "c1", "currency 'EUR' differs from the customer's GBP"),
        ("8", "ok1", "duplicate call id ok1 with different content (first on line 2)"),
        ("9", "old", "call id old was already imported with different content"),
        ("10", "n1", "charge 0.0000001 has more than 6 decimals"),
        ("11", "short", "expected 11 fields, got 2"),
    ]
    assert [row[0] for row in stored(db)] == ["ok1", "ok2", "old"]


def test_repeats_across_many_chunks_and_a_whole_file_again_are_judged_by_their_first_line(
    setup, tmp_path, monkeypatch
):
    # one chunk per read block (256 KB, ~2,700 lines here): on PostgreSQL the repeats at the
    # end are in another chunk than their first lines, and the second import has every chunk
    # holding rows already stored
    monkeypatch.setattr(pg_stage, "CHUNK_ROWS", 1)
    ledger, db = setup
    rows = [cdr(f"g{n}", start=moment(n)) for n in range(9000)]
    rows += [cdr("g5", start=moment(5)), cdr("g6", start=moment(6), charge="9.99")]
    rows += [cdr("g8000", start=moment(8000), billed=120)]
    path = write_cdrs(tmp_path / "many.csv", rows)
    first = import_cdrs(ledger, db, path)
    assert (first.rows, first.inserted, first.duplicates, first.rejected) == (9003, 9000, 1, 2)
    assert rejects(first.rejects_file) == [
        ("9003", "g6", "duplicate call id g6 with different content (first on line 8)"),
        ("9004", "g8000", "duplicate call id g8000 with different content (first on line 8002)"),
    ]
    again = import_cdrs(ledger, db, path)
    assert (again.rows, again.inserted, again.duplicates, again.rejected) == (9003, 0, 9001, 2)
    assert rejects(again.rejects_file) == [
        ("9003", "g6", "call id g6 was already imported with different content"),
        ("9004", "g8000", "call id g8000 was already imported with different content"),
    ]
    assert len(stored(db)) == 9000


def moment(n: int) -> str:
    """The n-th second of 2026-10-05 (UTC)."""
    return f"2026-10-05T{n // 3600:02d}:{n // 60 % 60:02d}:{n % 60:02d}Z"


def rejects(path: str | None) -> list[tuple[str, str, str]]:
    with open(path or "", newline="", encoding="utf-8") as f:
        return [(row["line"], row["call_id"], row["reason"]) for row in csv.DictReader(f)]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bad.csv.gz", b"\x1f\x8bnot really gzip", "not a readable gzip file"),
        ("cut.csv.gz", None, "not a readable gzip file"),
        ("header.csv", b"call,who,when\nx,ACME,2026-10-01T00:00:00Z\n", "wrong header"),
        ("empty.csv", b"", "is empty"),
        # a row that is not UTF-8 is rejected alone (tests/hostile); a header, the whole file
        ("utf16.csv", (HEADER + "\n" + cdr("x")).encode("utf-16"), "not UTF-8"),
    ],
)
def test_a_corrupt_file_fails_whole_and_imports_nothing(
    setup, tmp_path, monkeypatch, name, content, message
):
    # small chunks: on PostgreSQL many have been moved into usage_cdrs when the cut shows
    monkeypatch.setattr(pg_stage, "CHUNK_ROWS", 1000)
    ledger, db = setup
    if content is None:  # a gzip file cut short after many good rows
        whole = gzip.compress(
            ("\n".join([HEADER, *(cdr(f"g{i}") for i in range(20000))]) + "\n").encode()
        )
        content = whole[: len(whole) // 2]
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(CorruptUsageFile, match=message):
        import_cdrs(ledger, db, path)
    assert stored(db) == []
    assert not (tmp_path / name.replace(".gz", "").replace(".csv", ".rejects.csv")).exists()


def stage_tables(db: Database) -> list[str]:
    with db.connect() as conn:
        return [
            name
            for (name,) in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
                " AND tablename LIKE 'usage_stage_%'"
            )
        ]


def test_postgres_imports_leave_no_stage_behind_and_clear_a_crashed_ones(setup, tmp_path):
    ledger, db = setup
    if db.dialect != "postgres":
        pytest.skip("SQLite stages in a temporary table, gone with its connection")
    import_cdrs(ledger, db, write_cdrs(tmp_path / "a.csv", [cdr("a1")]))
    bad = tmp_path / "bad.csv.gz"
    bad.write_bytes(gzip.compress(("\n".join([HEADER, cdr("b1")]) + "\n").encode())[:-9])
    with pytest.raises(CorruptUsageFile):
        import_cdrs(ledger, db, bad)
    assert stage_tables(db) == []
    with db.connect() as conn:  # what a killed import leaves
        conn.execute("CREATE UNLOGGED TABLE usage_stage_0123abcd (line_no BIGINT)")
    import_cdrs(ledger, db, write_cdrs(tmp_path / "c.csv", [cdr("c1")]))
    assert stage_tables(db) == []
    assert [row[0] for row in stored(db)] == ["a1", "c1"]


def test_postgres_imports_gather_statistics_of_the_months_they_wrote_to(setup, tmp_path):
    ledger, db = setup
    if db.dialect != "postgres":
        pytest.skip("SQLite: no partitions, no statistics gathered after an import")

    def analysed() -> dict[str, int]:
        with db.connect() as conn:
            return {
                str(table): int(rows)
                for table, rows in conn.execute(
                    "SELECT c.relname, c.reltuples FROM pg_class c"
                    " JOIN pg_inherits i ON i.inhrelid = c.oid"
                    " WHERE i.inhparent = 'usage_cdrs'::regclass"
                    " AND EXISTS (SELECT 1 FROM pg_statistic s WHERE s.starelid = c.oid)"
                )
            }

    # a file whose first and last lines are not its earliest and latest CDRs (a converted
    # one among them: Python's), and a month in the middle with no partition before
    rows = [cdr("a1", start="2026-10-20T10:00:00Z"), cdr("a2", start="2026-09-30T23:59:59Z")]
    rows += [cdr("a3", start="2026-11-30 23:00:00+00:00"), cdr("a4", start="2026-10-02T00:00:00Z")]
    rows += [cdr("a5", start=" 2026-12-01T00:30:00Z")]  # padded: converted in Python
    import_cdrs(ledger, db, write_cdrs(tmp_path / "a.csv", rows))
    assert analysed() == {
        "usage_cdrs_y2026m09": 1,
        "usage_cdrs_y2026m10": 2,
        "usage_cdrs_y2026m11": 1,
        "usage_cdrs_y2026m12": 1,
    }
    # a later import of one month's CDRs analyses that month again, and only it
    import_cdrs(
        ledger, db, write_cdrs(tmp_path / "b.csv", [cdr("b1", start="2026-10-21T00:00:00Z")])
    )
    assert analysed()["usage_cdrs_y2026m10"] == 3 and analysed()["usage_cdrs_y2026m09"] == 1
