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


def binary_copy_file(conn: psycopg.Connection, converted: Path, target: Path) -> None:
    """The converted rows as PostgreSQL's binary COPY stream (the yardstick's input)."""
    columns = ", ".join((*CDR_COLUMNS, "batch"))
    conn.execute("CREATE TEMP TABLE bench_converted (LIKE usage_cdrs)")
    load = f"COPY bench_converted ({columns}) FROM STDIN"
    with converted.open("rb") as source, conn.cursor().copy(load) as copy:
        while block := source.read(1 << 20):
            copy.write(block)
    with (
        target.open("wb") as out,
        conn.cursor().copy(f"COPY bench_converted ({columns}) TO STDOUT (FORMAT BINARY)") as copy,
    ):
        for block in copy:
            out.write(block)
    conn.execute("DROP TABLE bench_converted")
    conn.commit()


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
    conn.commit()


def index_names(conn: psycopg.Connection, table: str) -> list[str]:
    return sorted(
        str(definition).split(" USING ", 1)[1]
        for (definition,) in conn.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = %s", (table,)
        )
    )


def run_ours(url: str, path: Path, rows: int) -> float:
    db = Database.from_url(url)
    with db.connect() as conn:
        conn.execute("TRUNCATE usage_cdrs, usage_imports")
    ledger = build_ledger(url)
    try:
        began = time.perf_counter()
        summary = import_cdrs(ledger, db, path)
        seconds = time.perf_counter() - began
    finally:
        ledger.close()
    assert summary.inserted == rows and summary.rejected == 0, summary
    return rows / seconds


def run_yardstick(url: str, binary: Path, rows: int) -> float:
    columns = ", ".join((*CDR_COLUMNS, "batch"))
    with psycopg.connect(url) as conn:
        conn.execute(f"TRUNCATE {YARDSTICK}")
        conn.commit()
        began = time.perf_counter()
        with (
            binary.open("rb") as source,
            conn.cursor().copy(f"COPY {YARDSTICK} ({columns}) FROM STDIN (FORMAT BINARY)") as copy,
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
        path, converted, binary = (Path(folder) / n for n in ("cdrs.csv", "conv.tsv", "c.bin"))
        began = time.perf_counter()
        generate(path, converted, CUSTOMERS, rows)
        print(
            f"generated {path.stat().st_size / 1e6:,.0f} MB of CSV in"
            f" {time.perf_counter() - began:.1f} s",
            flush=True,
        )
        with psycopg.connect(url) as conn:
            binary_copy_file(conn, converted, binary)
        converted.unlink()
        run_ours(url, path, rows)  # warm-up, untimed: creates the partitions the rows need
        with psycopg.connect(url) as conn:
            make_yardstick_table(conn)
            assert index_names(conn, "usage_cdrs") == index_names(conn, YARDSTICK)
            shape = f"{len(partitions(conn))} partitions" if partitions(conn) else "no partitions"
        figures = interleave(
            ROUNDS,
            ours=lambda: run_ours(url, path, rows),
            yardstick=lambda: run_yardstick(url, binary, rows),
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
                conn.execute(f"DROP TABLE {YARDSTICK}")
                conn.execute("TRUNCATE usage_cdrs, usage_imports")
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
