"""Which of the database's tables a backup carries, and how to list a database's tables.

Carried: the events with their chain rows, the usage CDRs (bulk data, not events: a re-rate
or a re-bill needs them), and every other table of tollbook's own but those that can be
derived again or hold only short-lived state. A table a later migration adds is carried
without a change here, unless it is listed below.
"""

from __future__ import annotations

from typing import Any

from adapters.store.database import Dialect

USAGE_TABLE = "usage_cdrs"
NOT_CARRIED = frozenset(
    {
        "schema_migrations",  # the manifest names the version; restore runs the migrations
        "projection_tracking",  # read models: rebuilt from the events after a restore
        "projection_faults",
        "usage_call_ids",  # PostgreSQL: made again from usage_cdrs
        "portal_sessions",  # short-lived: a restored ledger asks everyone to sign in again
        "portal_sign_in_attempts",
        "scheduler_leases",
        "snapshots",  # the library's aggregate snapshots (when enabled): derived from events
    }
)
READ_MODEL_PREFIX = "rm_"
#: the library's events table on each store (SQLite's default name; on PostgreSQL named for
#: the application): never carried as a table, whichever store a piece is restored into
EVENT_TABLES = frozenset({"stored_events", "tollbook_events"})


def carried(table: str, events_table: str = "") -> bool:
    """Whether a backup carries ``table`` as a whole-table file (usage has its own)."""
    return not (
        table in NOT_CARRIED
        or table.startswith((READ_MODEL_PREFIX, "sqlite_"))
        or table.endswith("snapshots")
        or table.removesuffix("_chain") in (events_table, *EVENT_TABLES)
        or table == USAGE_TABLE
    )


def table_names(conn: Any, dialect: Dialect) -> list[str]:
    """The database's tables (PostgreSQL: of the connection's schema, partitions left out)."""
    if dialect == "sqlite":
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    else:
        rows = conn.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')"
            " AND NOT c.relispartition"
        ).fetchall()
    return sorted(str(name) for (name,) in rows)


def column_names(conn: Any, dialect: Dialect, table: str) -> list[str]:
    if dialect == "sqlite":
        return [str(row[1]) for row in conn.execute(f"PRAGMA table_info({table})").fetchall()]
    rows = conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema ="
        " current_schema() AND table_name = %s ORDER BY ordinal_position",
        (table,),
    ).fetchall()
    return [str(name) for (name,) in rows]


def schema_version(conn: Any) -> int:
    row = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()
    return int(row[0])
