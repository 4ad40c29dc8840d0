"""CDR import (PostgreSQL): ``tollbook``'s import of a CSV file against a raw binary COPY.

    .venv/bin/python -m bench.cdr_import            # 2,000,000 CDRs; memory: 10,000,000
    .venv/bin/python -m bench.cdr_import --quick    # 200,000 CDRs; memory: 1,000,000

Ours: ``adapters.usage.importer.import_cdrs`` of the CSV file (parse, validate, dedupe,
convert, insert), into an emptied usage_cdrs. Yardstick: the same rows, already converted and
encoded as PostgreSQL's binary COPY format beforehand (not timed), streamed by
``COPY ... FROM STDIN (FORMAT BINARY)`` into an emptied table of the same shape, with the same
indexes and the same partitions as usage_cdrs. Rounds alternate, median of 3. Goal: ours >=
0.6x the yardstick's rows/s.

Memory: ``tollbook usage import`` of a file of 10,000,000 CDRs (1,000,000 with --quick) in a
process of its own, started from a small measuring process (a child's peak RSS would count
the pages of a big parent it was forked from); goal: peak RSS <= 300 MB.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from decimal import Decimal as D
from pathlib import Path

import psycopg

from adapters.config import build_ledger
from adapters.store.database import Database
from adapters.usage.importer import import_cdrs
from adapters.usage.schema import CDR_COLUMNS, ensure_schema
from bench.billing import HEADER, PREFIXES, generate
from bench.harness import Goal, header, interleave, median, own_database, report

ROUNDS = 3
TARGET = 0.6
RSS_LIMIT_MB = 300
CUSTOMERS = 200
YARDSTICK = "bench_raw"
CALL_ID_COLUMNS = "call_id, account, start_epoch"

# A child's peak RSS counts the pages of the process that forked it, so the import is started
# from this small Python process, whose children's peak is then the import's alone.
_MEASURE = (
    "import resource, subprocess, sys;"
    "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode;"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, code)"
)


def register_customers(url: str, count: int) -> None:
    ledger = build_ledger(url)
    try:
        for n in range(count):
            ledger.register_customer(
                "bench",
                account_number=f"C{n:05d}",
                name=f"Customer {n}",
                currency="GBP",
                tax_rate=D("20"),
                tax_description="VAT 20%",
                payment_terms_days=30,
                time_zone="UTC",
                invoice_line_grouping="destination",
            )
    finally:
        ledger.close()


def binary_copy_files(conn: psycopg.Connection, converted: Path, folder: Path) -> dict[str, Path]:
    """The converted rows as PostgreSQL's binary COPY streams (the yardstick's input): one
    per table the import writes CDRs to (usage_cdrs, and usage_call_ids where it exists)."""
    columns = ", ".join((*CDR_COLUMNS, "batch"))
    conn.execute("CREATE TEMP TABLE bench_converted (LIKE usage_cdrs)")
    load = f"COPY bench_converted ({columns}) FROM STDIN"
    with converted.open("rb") as source, conn.cursor().copy(load) as copy:
        while block := source.read(1 << 20):
            copy.write(block)
    streams = {YARDSTICK: f"COPY bench_converted ({columns}) TO STDOUT (FORMAT BINARY)"}
    if has_call_ids(conn):
        streams[f"{YARDSTICK}_ids"] = (
            f"COPY bench_converted ({CALL_ID_COLUMNS}) TO STDOUT (FORMAT BINARY)"
        )
    files = {}
    for table, statement in streams.items():
        files[table] = folder / f"{table}.bin"
        with files[table].open("wb") as out, conn.cursor().copy(statement) as copy:
            for block in copy:
                out.write(block)
    conn.execute("DROP TABLE bench_converted")
    conn.commit()
    return files


def has_call_ids(conn: psycopg.Connection) -> bool:
    return conn.execute("SELECT to_regclass('usage_call_ids') IS NOT NULL").fetchone()[0]


def partitions(conn: psycopg.Connection) -> list[tuple[str, str]]:
    """(name, bound) of each partition of usage_cdrs (none when it is not partitioned)."""
    return [
        (str(name), str(bound))
        for name, bound in conn.execute(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i"
            " JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = 'usage_cdrs'::regclass ORDER BY 1"
        )
    ]


def make_yardstick_table(conn: psycopg.Connection) -> None:
    """A table shaped like usage_cdrs: same columns, indexes, partitioning and partitions."""
    conn.execute(f"DROP TABLE IF EXISTS {YARDSTICK}")
    key = conn.execute("SELECT pg_get_partkeydef('usage_cdrs'::regclass)").fetchone()[0]
    conn.execute(
        f"CREATE TABLE {YARDSTICK} (LIKE usage_cdrs INCLUDING ALL)"
        + (f" PARTITION BY {key}" if key else "")
    )
    for name, bound in partitions(conn):
        conn.execute(f"CREATE TABLE {YARDSTICK}_{name} PARTITION OF {YARDSTICK} {bound}")
    conn.execute(f"DROP TABLE IF EXISTS {YARDSTICK}_ids")
    if has_call_ids(conn):
        conn.execute(f"CREATE TABLE {YARDSTICK}_ids (LIKE usage_call_ids INCLUDING ALL)")
    conn.commit()


def index_names(conn: psycopg.Connection, table: str) -> list[str]:
    return sorted(
        str(definition).split(" USING ", 1)[1]
        for (definition,) in conn.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = %s", (table,)
        )
    )


def truncated(conn: psycopg.Connection) -> list[str]:
    """The tables an import writes to, emptied before each round."""
    return ["usage_cdrs", "usage_imports", *(["usage_call_ids"] if has_call_ids(conn) else [])]


def run_ours(url: str, path: Path, rows: int) -> float:
    db = Database.from_url(url)
    with psycopg.connect(url) as conn:
        conn.execute(f"TRUNCATE {', '.join(truncated(conn))}")
    ledger = build_ledger(url)
    try:
        began = time.perf_counter()
        summary = import_cdrs(ledger, db, path)
        seconds = time.perf_counter() - began
    finally:
        ledger.close()
    assert summary.inserted == rows and summary.rejected == 0, summary
    return rows / seconds


def run_yardstick(url: str, binaries: dict[str, Path], rows: int) -> float:
    """Stream each pre-encoded binary COPY into its emptied table, in one transaction."""
    columns = {YARDSTICK: ", ".join((*CDR_COLUMNS, "batch")), f"{YARDSTICK}_ids": CALL_ID_COLUMNS}
    with psycopg.connect(url) as conn:
        conn.execute(f"TRUNCATE {', '.join(binaries)}")
        conn.commit()
        began = time.perf_counter()
        for table, binary in binaries.items():
            with (
                binary.open("rb") as source,
                conn.cursor().copy(
                    f"COPY {table} ({columns[table]}) FROM STDIN (FORMAT BINARY)"
                ) as copy,
            ):
                while block := source.read(1 << 20):
                    copy.write(block)
        conn.commit()
        seconds = time.perf_counter() - began
        count = conn.execute(f"SELECT COUNT(*) FROM {YARDSTICK}").fetchone()[0]
    assert count == rows, count
    return rows / seconds


def cheap_cdrs(path: Path, rows: int, customers: int) -> None:
    """A big valid CDR file fast (for the memory figure: content matters little)."""
    block = 100_000
    with path.open("w") as out:
        out.write(HEADER)
        for first in range(0, rows, block):
            lines = []
            for n in range(first, min(first + block, rows)):
                prefix, name, rate = PREFIXES[n % len(PREFIXES)]
                second = n % 2_678_400  # October 2026
                day, rest = divmod(second, 86_400)
                hour, rest = divmod(rest, 3600)
                lines.append(
                    f"m-{n:010d},C{n % customers:05d},2026-10-{day + 1:02d}T{hour:02d}:"
                    f"{rest // 60:02d}:{rest % 60:02d}Z,{n % 600},{n % 600},{prefix}{n:09d},"
                    f"{prefix},{name},{rate},0.{n % 1000:06d},GBP\n"
                )
            out.writelines(lines)


def peak_rss_mb(url: str, path: Path) -> float:
    script = Path(sys.executable).with_name("tollbook")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "adapters.cli.main"]
    measured = subprocess.run(
        [sys.executable, "-c", _MEASURE, *command, "--db", url, "usage", "import", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    peak_kib, code = measured.stdout.split()
    if code != "0":
        raise SystemExit(f"the measured import failed (exit {code}): {measured.stderr}")
    return int(peak_kib) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200,000 CDRs; memory: 1,000,000")
    parser.add_argument("--rows", type=int, help="CDRs per round (default 2,000,000)")
    parser.add_argument("--memory-rows", type=int, help="CDRs of the memory run (10,000,000)")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory figure")
    args = parser.parse_args()
    rows = args.rows or (200_000 if args.quick else 2_000_000)
    memory_rows = args.memory_rows or (1_000_000 if args.quick else 10_000_000)
    header(f"CDR import (PostgreSQL): {rows:,} CDRs, {CUSTOMERS} customers")
    with (
        own_database("postgres", "cdr_import") as url,
        tempfile.TemporaryDirectory(prefix="tollbook-bench-import-") as folder,
    ):
        register_customers(url, CUSTOMERS)
        db = Database.from_url(url)
        ensure_schema(db)
        path, converted = Path(folder) / "cdrs.csv", Path(folder) / "conv.tsv"
        began = time.perf_counter()
        generate(path, converted, CUSTOMERS, rows)
        print(
            f"generated {path.stat().st_size / 1e6:,.0f} MB of CSV in"
            f" {time.perf_counter() - began:.1f} s",
            flush=True,
        )
        with psycopg.connect(url) as conn:
            binaries = binary_copy_files(conn, converted, Path(folder))
        converted.unlink()
        run_ours(url, path, rows)  # warm-up, untimed: creates the partitions the rows need
        with psycopg.connect(url) as conn:
            make_yardstick_table(conn)
            assert index_names(conn, "usage_cdrs") == index_names(conn, YARDSTICK)
            shape = f"{len(partitions(conn))} partitions" if partitions(conn) else "no partitions"
            if has_call_ids(conn):
                ids = index_names(conn, "usage_call_ids")
                assert ids == index_names(conn, f"{YARDSTICK}_ids"), ids
                shape += " + usage_call_ids"
        figures = interleave(
            ROUNDS,
            ours=lambda: run_ours(url, path, rows),
            yardstick=lambda: run_yardstick(url, binaries, rows),
        )
        ours, yardstick = median(figures["ours"]), median(figures["yardstick"])
        goals = [
            Goal.at_least(
                "CDR import (PostgreSQL)",
                ours=ours,
                yardstick=yardstick,
                unit="rows/s",
                yardstick_name="binary COPY",
                target=TARGET,
                note=f"{rows:,} CDRs; same indexes, {shape}",
            )
        ]
        if not args.no_memory:
            with psycopg.connect(url) as conn:
                conn.execute(f"DROP TABLE {', '.join(binaries)}")
                conn.execute(f"TRUNCATE {', '.join(truncated(conn))}")
            path.unlink()
            big = Path(folder) / "big.csv"
            began = time.perf_counter()
            cheap_cdrs(big, memory_rows, CUSTOMERS)
            print(
                f"generated {big.stat().st_size / 1e6:,.0f} MB of CSV in"
                f" {time.perf_counter() - began:.1f} s",
                flush=True,
            )
            began = time.perf_counter()
            rss = peak_rss_mb(url, big)
            print(
                f"  memory run: {memory_rows:,} CDRs in {time.perf_counter() - began:.1f} s,"
                f" peak RSS {rss:,.0f} MB",
                file=sys.stderr,
                flush=True,
            )
            goals.append(
                Goal.absolute(
                    "Memory: import",
                    figure=rss,
                    unit="MB",
                    limit=RSS_LIMIT_MB,
                    note=f"peak RSS of tollbook usage import of {memory_rows:,} CDRs",
                )
            )
    report(*goals)


if __name__ == "__main__":
    main()
