"""The usage tables: CDRs in bulk beside the event store, and one row per import batch.

Times are epoch seconds (UTC) and charges integer millionths of the currency, so both SQLite
and PostgreSQL sum them exactly and compare them cheaply. ``batch`` numbers imports in commit
order; a billing run records the last batch it saw, which is how late CDRs are found.
"""

from __future__ import annotations

from typing import Any

from adapters.store.database import Database
from adapters.store.migrations.runner import migrate

CDR_COLUMNS = (
    "call_id",
    "account",
    "start_epoch",
    "duration",
    "billed_seconds",
    "dialled",
    "prefix",
    "destination",
    "rate",
    "charge_micros",
    "currency",
    "row_hash",
)

CDR_TYPES = """
    call_id TEXT NOT NULL,
    account TEXT NOT NULL,
    start_epoch BIGINT NOT NULL,
    duration INTEGER NOT NULL,
    billed_seconds INTEGER NOT NULL,
    dialled TEXT NOT NULL,
    prefix TEXT NOT NULL,
    destination TEXT NOT NULL,
    rate TEXT NOT NULL,
    charge_micros BIGINT NOT NULL,
    currency TEXT NOT NULL,
    row_hash BIGINT NOT NULL
"""

STAGE_SCHEMA = f"CREATE TEMP TABLE usage_stage (line_no BIGINT NOT NULL, {CDR_TYPES})"


def same_content(left: str, right: str) -> str:
    """SQL: the CDRs aliased ``left`` and ``right`` are the same call as imported: equal in
    every column but the call id (which joined them) and the row hash (derived from them)."""
    return " AND ".join(f"{left}.{c} = {right}.{c}" for c in CDR_COLUMNS[1:-1])


def ensure_schema(db: Database) -> None:
    migrate(db)  # the usage tables are made by the first migration step


def last_batch(conn: Any) -> int:
    row = conn.execute("SELECT COALESCE(MAX(batch), 0) FROM usage_imports").fetchone()
    return int(row[0])
