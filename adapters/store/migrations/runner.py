"""Apply the pending migration steps of this package to a database, and say which ran."""

from __future__ import annotations

import importlib
import pkgutil
import re
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from types import ModuleType
from typing import Any

import psycopg
import structlog

from adapters.store.database import Database, Dialect
from adapters.store.settings import setup_lock_key

log = structlog.get_logger("tollbook.migrations")

VERSION_TABLE = "schema_migrations"
MODULE_NAME = re.compile(r"v(\d{4})_([a-z0-9_]+)")
PACKAGE = "adapters.store.migrations"

Step = Callable[[Any, Dialect], None]
#: what reading the version table raises before the first migration made it
MISSING_TABLE = (sqlite3.OperationalError, psycopg.errors.UndefinedTable)


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    up: Step


@dataclass(frozen=True)
class Applied:
    version: int
    name: str
    applied_at: str


@dataclass(frozen=True)
class Status:
    applied: list[Applied]
    pending: list[Migration]


@cache  # the package's modules do not change while the process runs
def migrations() -> tuple[Migration, ...]:
    """Every step of this package, in version order (a gap or a repeat is a coding error)."""
    package = importlib.import_module(PACKAGE)
    found: list[Migration] = []
    for info in pkgutil.iter_modules(package.__path__):
        match = MODULE_NAME.fullmatch(info.name)
        if match is None:
            continue
        module: ModuleType = importlib.import_module(f"{PACKAGE}.{info.name}")
        found.append(Migration(int(match[1]), match[2], module.up))
    found.sort(key=lambda m: m.version)
    expected = list(range(1, len(found) + 1))
    if [m.version for m in found] != expected:
        raise RuntimeError(f"migration versions must run 1, 2, 3 ... without gaps: {found}")
    return tuple(found)


def _create_version_table(conn: Any) -> None:
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {VERSION_TABLE} (version INTEGER PRIMARY KEY,"
        " name TEXT NOT NULL, applied_at TEXT NOT NULL)"
    )


def _applied(conn: Any) -> list[Applied]:
    rows = conn.execute(
        f"SELECT version, name, applied_at FROM {VERSION_TABLE} ORDER BY version"
    ).fetchall()
    return [Applied(int(v), str(n), str(at)) for v, n, at in rows]


def _lock(db: Database, conn: Any) -> None:
    """Hold the set-up lock to the end of this transaction (SQLite: BEGIN IMMEDIATE has)."""
    if db.dialect == "postgres":
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (setup_lock_key(db.schema),))


def applied(db: Database) -> list[Applied]:
    """The steps the database has had (none when it has no version table yet); reads only."""
    try:
        with db.connect(write=False) as conn:
            return _applied(conn)
    except MISSING_TABLE:
        return []


def status(db: Database, steps: Sequence[Migration] | None = None) -> Status:
    """Which steps the database has had, and which are still to run; changes nothing."""
    steps = migrations() if steps is None else steps
    done = applied(db)
    versions = {a.version for a in done}
    return Status(done, [m for m in steps if m.version not in versions])


def _up_to_date(db: Database, steps: Sequence[Migration]) -> bool:
    """A cheap look without the lock: has every step been applied already?"""
    versions = {a.version for a in applied(db)}
    return all(step.version in versions for step in steps)


def migrate(db: Database, steps: Sequence[Migration] | None = None) -> list[Migration]:
    """Apply every pending step, each in a transaction of its own; the steps applied."""
    steps = migrations() if steps is None else steps
    if _up_to_date(db, steps):
        return []
    ran: list[Migration] = []
    for step in steps:
        with db.connect() as conn:
            _lock(db, conn)
            _create_version_table(conn)
            if step.version in {a.version for a in _applied(conn)}:
                continue  # another process applied it while we waited for the lock
            step.up(conn, db.dialect)
            conn.execute(
                db.sql(f"INSERT INTO {VERSION_TABLE} (version, name, applied_at) VALUES (?, ?, ?)"),
                (step.version, step.name, datetime.now(UTC).isoformat(timespec="seconds")),
            )
        log.info("migration_applied", version=step.version, name=step.name)
        ran.append(step)
    return ran
