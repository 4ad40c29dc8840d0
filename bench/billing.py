"""Usage billing benchmark: CDR import speed vs raw COPY, billing run vs one plain GROUP BY.

    .venv/bin/python bench/billing.py            # 100 customers, 200,000 CDRs (a quick look)
    .venv/bin/python bench/billing.py --full     # 1,000 customers, 2,000,000 CDRs (the target)
    .venv/bin/python bench/billing.py --db sqlite:///var/bench.sqlite
    .venv/bin/python bench/billing.py --full --cdrs 10000000 --import-only   # flat memory?

Default store: a fresh schema in the local PostgreSQL ``test`` database, dropped afterwards.
Targets on PostgreSQL: import >= 50% of raw COPY speed into the same table; billing run <= 3x
the plain SQL aggregation. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import random
import resource
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D
from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg

from adapters.config import build_ledger, postgres_connect
from adapters.logging import configure_logging
from adapters.store.database import Database
from adapters.usage.billing import run_billing
from adapters.usage.importer import import_cdrs
from adapters.usage.schema import CDR_COLUMNS, ensure_schema
from domain.usage import Period, row_hash, utc_window

PG = "postgresql://postgres@127.0.0.1:5432/test"
# A real-looking prefix table: (prefix, destination, rate per minute)
PREFIXES = [
    (prefix, name, rate)
    for prefix, rate, name in (
        line.split(" ", 2)
        for line in """
447 0.0123 UK Mobile
44 0.0050 UK Fixed
4420 0.0045 UK London
331 0.0090 France Paris
336 0.0250 France Mobile
33 0.0100 France
49 0.0080 Germany
4915 0.0300 Germany Mobile
34 0.0090 Spain
346 0.0280 Spain Mobile
39 0.0110 Italy
393 0.0320 Italy Mobile
1 0.0040 USA
1212 0.0040 USA New York
91 0.0180 India
9198 0.0210 India Mobile
86 0.0150 China
81 0.0400 Japan
61 0.0200 Australia
614 0.0450 Australia Mobile
55 0.0300 Brazil
52 0.0150 Mexico
27 0.0350 South Africa
234 0.0900 Nigeria
41 0.0210 Switzerland
417 0.0600 Switzerland Mobile
""".strip().splitlines()
    )
]
ZONES = ["UTC", "Europe/London", "Europe/Paris", "America/New_York"]
GROUPINGS = ["destination"] * 7 + ["day"] * 2 + ["none"]
HEADER = (
    "call_id,account,start_time,duration,billed_duration,dialled_number,destination_prefix,"
    "destination,rate_per_minute,charge,currency\n"
)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def generate(path: Path, raw: Path, customers: int, cdrs: int) -> None:
    """The CDR file, and the same rows already converted for the raw COPY comparison."""
    rng = random.Random(7)
    start = datetime(2026, 10, 1, tzinfo=UTC).timestamp()
    span = 31 * 86400
    with path.open("w") as out, raw.open("w") as converted:
        out.write(HEADER)
        for n in range(cdrs):
            account = f"C{rng.randrange(customers):05d}"
            prefix, name, rate = PREFIXES[rng.randrange(len(PREFIXES))]
            epoch = int(start + rng.random() * span)
            duration = int(rng.expovariate(1 / 120))
            billed = -(-duration // 60) * 60
            charge_micros = int(D(rate) * billed / 60 * 1_000_000)
            charge = D(charge_micros).scaleb(-6)
            when = datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            dialled = prefix + str(rng.randrange(10**8, 10**9))
            call_id = f"sw-{n:09d}"
            out.write(
                f"{call_id},{account},{when},{duration},{billed},{dialled},{prefix},{name},"
                f"{rate},{charge},GBP\n"
            )
            hashed = row_hash(call_id, account, epoch, billed, charge_micros)
            converted.write(
                f"{call_id}\t{account}\t{epoch}\t{duration}\t{billed}\t{dialled}\t{prefix}\t"
                f"{name}\t{rate}\t{charge_micros}\tGBP\t{hashed}\t1\n"
            )


def raw_load_seconds(db: Database, raw: Path) -> float:
    """Load the converted rows into an empty table shaped like usage_cdrs, as fast as it goes."""
    columns = ", ".join((*CDR_COLUMNS, "batch"))
    with db.connect() as conn:
        conn.execute("DROP TABLE IF EXISTS bench_raw")
        if db.dialect == "postgres":
            conn.execute("CREATE TABLE bench_raw (LIKE usage_cdrs INCLUDING ALL)")
        else:
            conn.execute("CREATE TABLE bench_raw AS SELECT * FROM usage_cdrs WHERE 0")
            conn.execute("CREATE UNIQUE INDEX bench_raw_pk ON bench_raw (call_id)")
            conn.execute("CREATE INDEX bench_raw_acc ON bench_raw (account, start_epoch)")
    began = time.perf_counter()
    with db.connect() as conn, raw.open("rb") as source:
        if db.dialect == "postgres":
            with conn.cursor().copy(f"COPY bench_raw ({columns}) FROM STDIN") as copy:
                while block := source.read(1 << 20):
                    copy.write(block)
        else:
            insert = f"INSERT INTO bench_raw VALUES ({', '.join('?' * 13)})"
            chunk: list[list[str]] = []
            for line in source:
                chunk.append(line.decode().rstrip("\n").split("\t"))
                if len(chunk) == 5000:
                    conn.executemany(insert, chunk)
                    chunk.clear()
            conn.executemany(insert, chunk)
    seconds = time.perf_counter() - began
    with db.connect() as conn:
        conn.execute("DROP TABLE bench_raw")
    return seconds


def plain_aggregation_seconds(db: Database, period: Period) -> float:
    lo = int(datetime(2026, 10, 1, tzinfo=UTC).timestamp()) - 86400
    hi = int(datetime(2026, 11, 1, tzinfo=UTC).timestamp()) + 86400
    began = time.perf_counter()
    with db.connect() as conn:
        rows = conn.execute(
            db.sql(
                "SELECT account, destination, COUNT(*), SUM(billed_seconds), SUM(charge_micros)"
                " FROM usage_cdrs WHERE start_epoch >= ? AND start_epoch < ?"
                " GROUP BY account, destination"
            ),
            (lo, hi),
        ).fetchall()
    assert rows
    return time.perf_counter() - began


def same_groups_seconds(
    db: Database, period: Period, settings: list[tuple[str, str, str]]
) -> tuple[float, int, int]:
    """The billing run's own aggregation in one plain GROUP BY: every customer's CDRs in its
    local-time window, grouped as its invoice groups them (destination, local day, or all).
    ``settings``: (account, time zone, grouping). Returns (seconds, calls summed, groups)."""
    zones = sorted({zone for _, zone, _ in settings})
    values = ", ".join(
        f"('{account}', {int(utc_window(period, zone)[0].timestamp())},"
        f" {int(utc_window(period, zone)[1].timestamp())}, '{grouping}', {zones.index(zone)})"
        for account, zone, grouping in settings
    )
    day = " ".join(f"WHEN {n} THEN {local_day(period, zone)}" for n, zone in enumerate(zones))
    began = time.perf_counter()
    with db.connect() as conn:
        if db.dialect == "postgres":
            conn.execute("SET LOCAL work_mem = '64MB'")  # as the billing run's sums have
        rows = conn.execute(
            f"WITH t (account, lo, hi, grouping, zone) AS (VALUES {values})"
            " SELECT c.account,"
            " CASE WHEN t.grouping = 'destination' THEN c.destination ELSE '' END,"
            f" CASE WHEN t.grouping = 'day' THEN CASE t.zone {day} END ELSE -1 END,"
            " COUNT(*), SUM(c.billed_seconds), SUM(c.charge_micros), SUM(c.row_hash)"
            " FROM usage_cdrs c JOIN t ON c.account = t.account"
            " AND c.start_epoch >= t.lo AND c.start_epoch < t.hi GROUP BY 1, 2, 3"
        ).fetchall()
    return time.perf_counter() - began, sum(int(row[3]) for row in rows), len(rows)


def local_day(period: Period, zone: str) -> str:
    """SQL of a CDR's day index within the period in ``zone``: the local time's whole days
    since the period's first local midnight, the UTC offset switching at each DST change
    (plain arithmetic: faster than comparing with every day's bound)."""
    start, end = (int(moment.timestamp()) for moment in utc_window(period, zone))
    base = int(datetime.combine(period.start, datetime.min.time(), UTC).timestamp())

    def offset(epoch: int) -> int:
        moment = datetime.fromtimestamp(epoch, ZoneInfo(zone))
        return int(moment.utcoffset().total_seconds())  # type: ignore[union-attr]

    # (first epoch, offset) of each stretch with one offset; changes fall on quarter hours
    stretches = [(start, offset(start))]
    for epoch in range(start, end, 900):
        if offset(epoch) != stretches[-1][1]:
            stretches.append((epoch, offset(epoch)))
    shift = " ".join(
        f"WHEN c.start_epoch < {following[0]} THEN {current[1] - base}"
        for current, following in pairwise(stretches)
    )
    last = stretches[-1][1] - base
    return f"(c.start_epoch + {f'CASE {shift} ELSE {last} END' if shift else last}) / 86400"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="1,000 customers, 2,000,000 CDRs")
    parser.add_argument("--customers", type=int)
    parser.add_argument("--cdrs", type=int)
    parser.add_argument("--db", help="store URL (default: a fresh schema in local PostgreSQL)")
    parser.add_argument(
        "--import-only",
        action="store_true",
        help="stop after the import (e.g. --cdrs 10000000 to see that peak RSS stays flat)",
    )
    args = parser.parse_args()
    configure_logging("warning")
    customers = args.customers or (1000 if args.full else 100)
    cdrs = args.cdrs or (2_000_000 if args.full else 200_000)
    schema = None
    url = args.db
    if url is None:
        schema = f"bench_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(PG, autocommit=True) as admin:
            admin.execute(f'CREATE SCHEMA "{schema}"')
        url = f"{PG}?schema={schema}"
    try:
        run(url, customers, cdrs, import_only=args.import_only)
    finally:
        if schema:
            with psycopg.connect(PG, autocommit=True) as admin:
                admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


def run(url: str, customers: int, cdrs: int, *, import_only: bool = False) -> None:
    ledger = build_ledger(url)
    db = Database.from_url(url)
    period = Period.month("2026-10")
    print(f"store {db.dialect}; {customers:,} customers, {cdrs:,} CDRs over October 2026")
    began = time.perf_counter()
    ledger.define_package("bench", name="Trunk", unit_price=D("120"), currency="GBP")
    rng = random.Random(3)
    settings: list[tuple[str, str, str]] = []  # (account, zone, grouping)
    for n in range(customers):
        account = f"C{n:05d}"
        settings.append((account, rng.choice(ZONES), rng.choice(GROUPINGS)))
        ledger.register_customer(
            "bench",
            account_number=account,
            name=f"Customer {n}",
            currency="GBP",
            tax_rate=D("20"),
            tax_description="VAT 20%",
            payment_terms_days=30,
            time_zone=settings[-1][1],
            invoice_line_grouping=settings[-1][2],
        )
        if n % 2 == 0:
            start = date(2026, 10, 1) + timedelta(days=rng.randrange(0, 40) - 8)
            ledger.assign_package(account, "Trunk", "bench", start_date=start)
    print(f"set-up (customers, packages): {time.perf_counter() - began:.1f} s")
    with tempfile.TemporaryDirectory() as tmp:
        path, raw = Path(tmp) / "cdrs.csv", Path(tmp) / "converted.tsv"
        began = time.perf_counter()
        generate(path, raw, customers, cdrs)
        size = path.stat().st_size / 1e6
        print(f"generated {size:.0f} MB of CSV in {time.perf_counter() - began:.1f} s")
        ensure_schema(db)
        raw_seconds = raw_load_seconds(db, raw)
        began = time.perf_counter()
        summary = import_cdrs(ledger, db, path)
        import_seconds = time.perf_counter() - began
    assert summary.inserted == cdrs, summary
    raw_rate, import_rate = cdrs / raw_seconds, cdrs / import_seconds
    print(
        f"raw load of converted rows ({'COPY' if db.dialect == 'postgres' else 'executemany'})"
        f": {raw_rate:,.0f} rows/s"
    )
    print(
        f"import (parse, validate, stage, dedupe, insert): {import_rate:,.0f} rows/s"
        f" = {import_rate / raw_rate:.0%} of raw (target >= 50%)"
    )
    if import_only:
        print(f"peak RSS of this process: {peak_rss_mb():.0f} MB")
        ledger.close()
        return
    if db.dialect == "postgres":
        # A table in service has been vacuumed and analysed by autovacuum; one loaded a
        # second ago has no planner statistics (both queries below then sort 2M rows instead
        # of hashing) and unset hint bits. The checkpoint writes the import's dirty pages
        # now, not while the two timed queries below run.
        search_path = f"-c search_path={db.schema}" if db.schema else ""
        with postgres_connect(db.env, autocommit=True, options=search_path) as conn:
            conn.execute("VACUUM (ANALYZE) usage_cdrs")
            conn.execute("CHECKPOINT")
    # Two yardsticks, each the median of three runs (one run alone swings by a third on a
    # busy machine): the run's own aggregation (every customer's window and grouping) in one
    # plain GROUP BY, which the target is about; and a cheaper one, every CDR grouped by
    # account and destination only, no windows, no days (this bench's first yardstick).
    same_runs = sorted(same_groups_seconds(db, period, settings) for _ in range(3))
    same_seconds, same_calls, same_groups = same_runs[1]
    sql_runs = sorted(plain_aggregation_seconds(db, period) for _ in range(3))
    sql_seconds = sql_runs[1]
    began = time.perf_counter()
    report = run_billing(ledger, db, period, actor="bench")
    billing_seconds = time.perf_counter() - began
    usage = [
        line.source
        for result in report.results
        for line in result.lines
        if line.kind == "usage" and line.source
    ]
    billed_calls, usage_lines = sum(source.calls for source in usage), len(usage)
    print(
        f"one plain SQL GROUP BY of the same groups (window and grouping per customer):"
        f" {same_seconds:.2f} s (median of {', '.join(f'{r[0]:.2f}' for r in same_runs)});"
        f" {same_groups:,} groups of {same_calls:,} calls; the run made {usage_lines:,} usage"
        f" lines of {billed_calls:,} calls"
    )
    print(
        f"plain SQL GROUP BY account, destination (all CDRs, no windows or days):"
        f" {sql_seconds:.2f} s (median of {', '.join(f'{r:.2f}' for r in sql_runs)})"
    )
    print(
        f"billing run: {report.count('created'):,} invoices in {billing_seconds:.2f} s"
        f" = {billing_seconds / same_seconds:.1f}x the same aggregation in one GROUP BY"
        f" (target <= 3x); {billing_seconds / sql_seconds:.1f}x the cheaper one"
    )
    began = time.perf_counter()
    again = run_billing(ledger, db, period, actor="bench")
    print(
        f"second run (idempotent, {again.count('exists'):,} found):"
        f" {time.perf_counter() - began:.2f} s"
    )
    print(f"peak RSS of this process: {peak_rss_mb():.0f} MB")
    ledger.close()


if __name__ == "__main__":
    main()
