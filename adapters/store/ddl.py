"""Creating adapter tables safely when several processes start at once."""

from __future__ import annotations

from typing import Any

from adapters.store.database import Database
from adapters.store.settings import SETUP_LOCK_KEY


def serialise_ddl(db: Database, conn: Any) -> None:
    """On PostgreSQL, concurrent ``CREATE TABLE IF NOT EXISTS`` can fail with a unique
    violation; the set-up advisory lock (held to the end of the transaction) orders them.
    SQLite's ``BEGIN IMMEDIATE`` already serialises writers."""
    if db.dialect == "postgres":
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (SETUP_LOCK_KEY,))
