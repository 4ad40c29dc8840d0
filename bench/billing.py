"""Billing run (one period) against one plain GROUP BY of the same CDRs; its scaling with the
number of CDRs; and its peak memory.

    .venv/bin/python -m bench.billing            # the issue's sizes (about 6-8 minutes)
    .venv/bin/python -m bench.billing --quick    # smaller sizes, same yardsticks
    .venv/bin/python -m bench.billing --only one --store sqlite postgres

Billing run, one period: ours is ``adapters.usage.billing.run_billing`` for October 2026 over
2,000,000 CDRs of 1,000 customers (their own time zones, line groupings and packages),
creating the invoices. Yardstick: ``SELECT account, destination, COUNT(*),
SUM(billed_seconds), SUM(charge_micros) FROM usage_cdrs WHERE start_epoch >= lo AND
start_epoch < hi GROUP BY account, destination`` over the period's CDRs (lo, hi: the period's
UTC bounds, widened to cover every customer's time zone). A billing run is idempotent (a
second run finds the invoices), so every round bills a fresh database: a copy of one
prepared database (customers, CDRs, ``VACUUM ANALYZE`` done; PostgreSQL ``CREATE DATABASE
... TEMPLATE``, SQLite a file copy). In each round the yardstick query runs once untimed on
the copy (the two sides start from the same cache), then ours, then the yardstick, on that
copy. Median of 3 interleaved rounds; goal: ours <= 2x the yardstick's seconds.

Scale with work: the billing run at 1M, 2M and 5M CDRs (2,000 CDRs a customer), three fresh
rounds each; goal: the cost per CDR at 5M within 1.2x of that at 1M.

Memory: the billing run over 10M CDRs (5,000 customers) in a process of its own, started
from a small measuring process; goal: peak RSS <= 500 MB.

The CDRs of these rows are generated and loaded in the database (PostgreSQL: one INSERT ...
SELECT over generate_series; SQLite: executemany of generated rows), not through the
importer, which has its own bench (bench/cdr_import.py, which uses ``generate`` below).
"""

from __future__ import annotations

import argparse
import random
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

from adapters.config import build_ledger
from adapters.logging import configure_logging
from adapters.queries import every_customer
from adapters.store.database import Database
from adapters.usage.billing import run_billing
from adapters.usage.partitions import create_partition, months_between, partitions
from adapters.usage.schema import CDR_COLUMNS, ensure_schema
from bench.harness import ADMIN_URL, Goal, header, interleave, median, own_database, report
from domain.customer import Customer, CustomerProfile
from domain.usage import Period, row_hash, utc_window

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


# ------------------------------------------------------------------ the bench's own data

PERIOD = Period.month("2026-10")
ROUNDS = 3
TARGET = 2.0  # ours / yardstick, seconds
SCALE_TARGET = 1.2  # cost per CDR at the largest size / at the smallest
RSS_LIMIT_MB = 500
CDRS_PER_CUSTOMER = 2000


@dataclass(frozen=True)
class Sizes:
    one: int  # CDRs of the "billing run, one period" row
    scale: tuple[int, ...]
    memory: int


FULL = Sizes(one=2_000_000, scale=(1_000_000, 2_000_000, 5_000_000), memory=10_000_000)
QUICK = Sizes(one=200_000, scale=(100_000, 200_000, 500_000), memory=1_000_000)


def customers_for(cdrs: int) -> int:
    return max(1, cdrs // CDRS_PER_CUSTOMER)


def window() -> tuple[int, int]:
    """The period's CDRs: from the earliest local midnight of its first day in any of the
    customers' zones to the latest of the day after its last (what the billing run reads)."""
    bounds = [utc_window(PERIOD, zone) for zone in ZONES]
    return int(min(b[0] for b in bounds).timestamp()), int(max(b[1] for b in bounds).timestamp())


def prepare(url: str, cdrs: int) -> None:
    """Customers (zones, groupings, half of them with a package), CDRs over the period and
    one import batch, then planner statistics, as a table in service has them."""
    customers = customers_for(cdrs)
    ledger = build_ledger(url)
    db = Database.from_url(url)
    try:
        package = ledger.define_package("bench", name="Trunk", unit_price=D("120"), currency="GBP")
        rng = random.Random(3)
        stamp = ledger.stamp("bench")
        batch: list[Customer] = []
        for n in range(customers):
            # the events register_customer and assign_package make, saved 500 customers at a
            # time (the commands take ~35 ms a customer: minutes for the memory row's 5,000)
            customer = Customer.register(
                CustomerProfile(
                    account_number=f"C{n:05d}",
                    name=f"Customer {n}",
                    currency="GBP",
                    tax_rate=D("20"),
                    tax_description="VAT 20%",
                    payment_terms_days=30,
                    time_zone=rng.choice(ZONES),
                    invoice_line_grouping=rng.choice(GROUPINGS),
                ),
                stamp,
            )
            if n % 2 == 0:
                start = date(2026, 10, 1) + timedelta(days=rng.randrange(0, 40) - 8)
                customer.assign_package(uuid.uuid4(), package, D(1), start, None, stamp)
            batch.append(customer)
            if len(batch) == 500:
                ledger.save(*batch)
                batch.clear()
        ledger.save(*batch)
        every_customer(ledger)  # the customer list's read model caught up, as in service
    finally:
        ledger.close()
    ensure_schema(db)
    if db.dialect == "postgres":
        _load_postgres(db, customers, cdrs)
    else:
        _load_sqlite(db, customers, cdrs)
    with db.connect() as conn:
        conn.execute(
            db.sql("INSERT INTO usage_imports VALUES (1, 'bench', '', ?, ?, ?, 0, 0)"),
            (datetime.now(UTC).isoformat(), cdrs, cdrs),
        )
    if db.dialect == "postgres":
        # autovacuum has analysed (and vacuumed) a table in service; this one was loaded a
        # moment ago. CHECKPOINT: the load's dirty pages are written now, not during rounds.
        with db.autocommit_connection() as conn:
            conn.execute("VACUUM (ANALYZE) usage_cdrs")
            conn.execute("CHECKPOINT")
    else:
        with db.connect() as conn:
            conn.execute("ANALYZE")
        conn = db.sqlite_connection()
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            conn.close()


def _load_postgres(db: Database, customers: int, cdrs: int) -> None:
    """Generated and inserted by the server in one statement (no client round trips)."""
    start = int(datetime(2026, 10, 1, tzinfo=UTC).timestamp())
    prefixes = ", ".join(
        f"({n}, '{prefix}', '{name}', '{rate}', {int(D(rate) * 1_000_000)})"
        for n, (prefix, name, rate) in enumerate(PREFIXES)
    )
    with db.connect() as conn:
        # the (account, start) index built after the load, as one sort: maintained row by
        # row, its random inserts made a 10M-CDR load take many minutes
        indexes = conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'usage_cdrs'"
            " AND schemaname = current_schema()"
            " AND indexname NOT IN (SELECT conname FROM pg_constraint)"
        ).fetchall()
        for name, _ in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        # usage_cdrs is partitioned by month (docs/usage-billing.md): the import makes a
        # month's partition when it first meets one, so this load does too
        partitioned = conn.execute(
            "SELECT relkind = 'p' FROM pg_class WHERE oid = to_regclass('usage_cdrs')"
        ).fetchone()[0]
        if partitioned:
            made = set(partitions(conn))
            for month in months_between(start, start + 31 * 86400 - 1):
                if month not in made:
                    create_partition(conn, month)
        conn.execute("SELECT setseed(0.7)")
        conn.execute(
            f"INSERT INTO usage_cdrs ({', '.join((*CDR_COLUMNS, 'batch'))})"
            " SELECT 'sw-' || lpad(g.n::text, 9, '0'), g.account, g.epoch, g.duration,"
            " (g.duration + 59) / 60 * 60, p.prefix || (100000000 + g.n)::text, p.prefix,"
            " p.name, p.rate, p.micros * ((g.duration + 59) / 60), 'GBP', g.hash, 1"
            " FROM (SELECT n,"
            f" 'C' || lpad(floor(random() * {customers})::int::text, 5, '0') AS account,"
            f" floor(random() * {len(PREFIXES)})::int AS p,"
            f" {start} + floor(random() * {31 * 86400})::bigint AS epoch,"
            " floor(-120 * ln(1 - random()))::int AS duration,"
            " floor(random() * 4294967296)::bigint AS hash"
            f" FROM generate_series(1, {cdrs}) AS n) AS g"
            f" JOIN (VALUES {prefixes}) AS p (n, prefix, name, rate, micros) ON p.n = g.p"
        )
        conn.execute("SET LOCAL maintenance_work_mem = '256MB'")
        for _, definition in indexes:
            # pg_indexes gives a partitioned table's index as "ON ONLY" the parent: as
            # written, the parent's index stays invalid and no partition gets one
            conn.execute(definition.replace(" ON ONLY ", " ON ", 1))


def _load_sqlite(db: Database, customers: int, cdrs: int) -> None:
    rng = random.Random(7)
    start = int(datetime(2026, 10, 1, tzinfo=UTC).timestamp())
    micros = [int(D(rate) * 1_000_000) for _, _, rate in PREFIXES]
    insert = f"INSERT INTO usage_cdrs VALUES ({', '.join('?' * 13)})"
    with db.connect() as conn:
        chunk: list[tuple[object, ...]] = []
        for n in range(cdrs):
            p = rng.randrange(len(PREFIXES))
            prefix, name, rate = PREFIXES[p]
            duration = int(rng.expovariate(1 / 120))
            minutes = (duration + 59) // 60
            chunk.append(
                (
                    f"sw-{n:09d}",
                    f"C{rng.randrange(customers):05d}",
                    start + rng.randrange(31 * 86400),
                    duration,
                    minutes * 60,
                    f"{prefix}{100000000 + n}",
                    prefix,
                    name,
                    rate,
                    micros[p] * minutes,
                    "GBP",
                    rng.getrandbits(32),
                    1,
                )
            )
            if len(chunk) == 10_000:
                conn.executemany(insert, chunk)
                chunk.clear()
        conn.executemany(insert, chunk)


@contextmanager
def copy_of(url: str) -> Iterator[str]:
    """A fresh copy of the prepared database ``url`` (removed afterwards): an unbilled
    ledger with the same CDRs and statistics."""
    if url.startswith("sqlite:"):
        source = Path(urlsplit(url).path)
        target = source.with_name(f"copy-{uuid.uuid4().hex[:8]}.sqlite")
        shutil.copyfile(source, target)
        try:
            yield f"sqlite:///{target}"
        finally:
            for leftover in target.parent.glob(f"{target.name}*"):
                leftover.unlink()
        return
    template = urlsplit(url).path.lstrip("/")
    name = f"{template}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    try:
        yield urlunsplit(urlsplit(url)._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def plain_group_by(url: str) -> float:
    """The yardstick: seconds of the plain GROUP BY over the period's CDRs."""
    db = Database.from_url(url)
    lo, hi = window()
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
    seconds = time.perf_counter() - began
    assert rows
    return seconds


def billing_run(url: str, customers: int) -> float:
    """Ours: seconds of the billing run of the period, every invoice created."""
    ledger = build_ledger(url)
    db = Database.from_url(url)
    try:
        began = time.perf_counter()
        billed = run_billing(ledger, db, PERIOD, actor="bench")
        seconds = time.perf_counter() - began
    finally:
        ledger.close()
    created = billed.count("created")
    assert created == customers, f"{created} invoices created of {customers} customers"
    return seconds


def bill_rounds(url: str, cdrs: int) -> dict[str, list[float]]:
    """Interleaved rounds over fresh copies of the prepared database ``url``: each round
    makes a copy, runs the yardstick once untimed (so both sides start from the same cache),
    then ours (billing the copy), then the yardstick timed, and drops the copy."""
    customers = customers_for(cdrs)
    with ExitStack() as stack:
        copies: list[tuple[ExitStack, str]] = []

        def ours() -> float:
            round_stack = stack.enter_context(ExitStack())
            copy = round_stack.enter_context(copy_of(url))
            copies.append((round_stack, copy))
            plain_group_by(copy)
            return billing_run(copy, customers)

        def yardstick() -> float:
            round_stack, copy = copies.pop()
            with round_stack:
                return plain_group_by(copy)

        return interleave(ROUNDS, ours=ours, yardstick=yardstick)


# A child's peak RSS counts the pages of the process that forked it, so the billing run is
# started from this small Python process, whose children's peak is then the run's alone.
_MEASURE = (
    "import resource, subprocess, sys;"
    "code = subprocess.run(sys.argv[1:]).returncode;"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, code)"
)


def peak_rss_mb(url: str, cdrs: int) -> tuple[float, float]:
    """(peak RSS in MB, seconds) of the billing run of ``url`` in a process of its own."""
    command = [sys.executable, "-m", "bench.billing", "--bill", url, str(cdrs)]
    began = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, *command],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    seconds = time.perf_counter() - began
    peak_kb, code = done.stdout.split()[-2:]
    if code != "0":
        raise RuntimeError(f"the billing run failed ({code}): {done.stderr[-2000:]}")
    return int(peak_kb) / 1024, seconds


def timed(what: str, work: Callable[[], None]) -> None:
    began = time.perf_counter()
    work()
    print(f"  {what}: {time.perf_counter() - began:.1f} s", flush=True)


#: rounds measured in this process, by (store, CDRs): the scale row reuses the one-period
#: row's rounds at the size they share (same data set, same customers per CDR)
_MEASURED: dict[tuple[str, int], dict[str, list[float]]] = {}


def measured(store: str, cdrs: int) -> dict[str, list[float]]:
    """Interleaved rounds of ours and the yardstick over ``cdrs`` CDRs in ``store``."""
    if (store, cdrs) not in _MEASURED:
        with own_database(store, "billing") as url:
            timed("prepared", lambda: prepare(url, cdrs))
            _MEASURED[store, cdrs] = bill_rounds(url, cdrs)
    return _MEASURED[store, cdrs]


def one_period(store: str, cdrs: int) -> Goal:
    header(f"billing run, one period ({store}, {cdrs:,} CDRs, {customers_for(cdrs):,} customers)")
    rounds = measured(store, cdrs)
    ours, yardstick = median(rounds["ours"]), median(rounds["yardstick"])
    return Goal.at_most(
        f"billing run, one period ({store}, {cdrs:,} CDRs)",
        ours=ours,
        yardstick=yardstick,
        unit="s",
        yardstick_name="plain GROUP BY account, destination",
        target=TARGET,
        note=f"{customers_for(cdrs):,} invoices; fresh copy a round",
    )


def scale(sizes: tuple[int, ...]) -> Goal:
    per_cdr: dict[int, float] = {}
    for cdrs in sizes:
        header(f"scale with work: billing run at {cdrs:,} CDRs (postgres)")
        rounds = measured("postgres", cdrs)
        per_cdr[cdrs] = median(rounds["ours"]) / cdrs * 1e6
        ratio = median(rounds["ours"]) / median(rounds["yardstick"])
        print(f"  {cdrs:,} CDRs: {per_cdr[cdrs]:.3f} µs a CDR ({ratio:.2f}x the yardstick)")
    smallest, largest = min(sizes), max(sizes)
    return Goal.at_most(
        f"scale with work: billing run, cost per CDR at {largest:,} vs {smallest:,} CDRs",
        ours=per_cdr[largest],
        yardstick=per_cdr[smallest],
        unit="µs/CDR",
        yardstick_name=f"at {smallest:,} CDRs",
        target=SCALE_TARGET,
        note="; ".join(f"{n:,}: {per_cdr[n]:.3f} µs/CDR" for n in sizes),
    )


def memory(cdrs: int) -> Goal:
    header(f"memory: billing run over {cdrs:,} CDRs (postgres)")
    with own_database("postgres", "billing_memory") as url:
        timed("prepared", lambda: prepare(url, cdrs))
        peak, seconds = peak_rss_mb(url, cdrs)
    print(f"  peak RSS {peak:.0f} MB; the run's process took {seconds:.1f} s")
    return Goal.absolute(
        f"memory: billing run over {cdrs:,} CDRs (postgres)",
        figure=peak,
        unit="MB",
        limit=RSS_LIMIT_MB,
        note=f"peak RSS of the run's own process; {customers_for(cdrs):,} invoices",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, same yardsticks")
    parser.add_argument(
        "--only", nargs="*", choices=("one", "scale", "memory"), help="run only these rows"
    )
    parser.add_argument(
        "--store",
        nargs="*",
        choices=("postgres", "sqlite"),
        help="stores of the one-period row (default: postgres; with --quick both)",
    )
    parser.add_argument("--bill", nargs=2, metavar=("URL", "CDRS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    configure_logging("warning")
    if args.bill:  # the memory row's child process
        billing_run(args.bill[0], customers_for(int(args.bill[1])))
        return
    sizes = QUICK if args.quick else FULL
    chosen = args.only or ["one", "scale", "memory"]
    goals = []
    if "one" in chosen:
        stores = args.store or (["postgres", "sqlite"] if args.quick else ["postgres"])
        goals += [one_period(store, sizes.one) for store in stores]
    if "scale" in chosen:
        goals.append(scale(sizes.scale))
    if "memory" in chosen:
        goals.append(memory(sizes.memory))
    report(*goals)


if __name__ == "__main__":
    main()
