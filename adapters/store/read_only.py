"""A store made read-only: while it is copied to another node, and after, once retired.

The mark is a trigger on each of the store's tables that hold what cannot be derived again
(the events and their chain, the usage CDRs, the tables a backup carries): any insert, update
or delete there is refused by the database itself, with a message that starts with
``MARKER``. The database enforces it for every writer — this process, another tollbook
process, an older version, a hand-written SQL statement — and a store that is not marked pays
nothing for it. Read models stay writable: they are derived, and a copy rebuilds its own.

On PostgreSQL the refusal is SQLSTATE 25006 (``read_only_sql_transaction``); making the mark
waits for writes in flight (CREATE TRIGGER takes a lock every insert holds), so once it is
made no later write can land. The recorders turn the refusal into :class:`StoreReadOnly`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from adapters.backup.tables import USAGE_TABLE, carried, table_names
from adapters.store.chain import chain_table
from adapters.store.database import Database
from adapters.store.read_only_refusal import MARKER

TRIGGER = "tollbook_read_only"
FUNCTION = "tollbook_refuse_write"
SQLITE_OPERATIONS = ("INSERT", "UPDATE", "DELETE")


def protected_tables(conn: Any, db: Database, events_table: str) -> list[str]:
    present = table_names(conn, db.dialect)
    # usage_call_ids too: a purge deletes there before it drops a month's partition (DDL no
    # trigger sees), so the refusal comes first and rolls the purge back whole
    wanted = {events_table, chain_table(events_table), USAGE_TABLE, "usage_call_ids"}
    return [t for t in present if t in wanted or carried(t, events_table)]


def make_read_only(db: Database, events_table: str, reason: str) -> None:
    """Mark the store read-only; ``reason`` is said in every refusal (plain words of ours)."""
    text = f"{MARKER}: {reason}".replace("'", "")
    with db.connect() as conn:
        tables = protected_tables(conn, db, events_table)
        if db.dialect == "postgres":
            conn.execute(
                f"CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS"
                " $$ BEGIN RAISE EXCEPTION USING ERRCODE = 'read_only_sql_transaction',"
                " MESSAGE = TG_ARGV[0]; END $$"
            )
        for table in tables:
            for statement in _create(db, table, text):
                conn.execute(statement)


def _create(db: Database, table: str, text: str) -> Iterator[str]:
    if db.dialect == "postgres":
        yield f'DROP TRIGGER IF EXISTS {TRIGGER} ON "{table}"'
        yield (
            f'CREATE TRIGGER {TRIGGER} BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON "{table}"'
            f" FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION}('{text}')"
        )
        return
    for operation in SQLITE_OPERATIONS:
        name = f"{TRIGGER}_{table}_{operation.lower()}"
        yield f'DROP TRIGGER IF EXISTS "{name}"'
        yield (
            f'CREATE TRIGGER "{name}" BEFORE {operation} ON "{table}"'
            f" BEGIN SELECT RAISE(ABORT, '{text}'); END"
        )


def make_writable(db: Database) -> bool:
    """Take the mark off (a move abandoned before the switch); True if there was one."""
    with db.connect() as conn:
        if db.dialect == "postgres":
            rows = conn.execute(
                "SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = current_schema() AND t.tgname = %s",
                (TRIGGER,),
            ).fetchall()
            for (table,) in rows:
                conn.execute(f'DROP TRIGGER {TRIGGER} ON "{table}"')
            conn.execute(f"DROP FUNCTION IF EXISTS {FUNCTION}()")
            return bool(rows)
        names = conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE ?",
            (f"{TRIGGER}_%",),
        ).fetchall()
        for (name,) in names:
            conn.execute(f'DROP TRIGGER "{name}"')
        return bool(names)


def read_only_reason(db: Database) -> str | None:
    """Why the store is read-only, or None when it is writable."""
    with db.connect(write=False) as conn:
        if db.dialect == "postgres":
            row = conn.execute(
                "SELECT t.tgargs FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = current_schema() AND t.tgname = %s LIMIT 1",
                (TRIGGER,),
            ).fetchone()
            return bytes(row[0]).rstrip(b"\0").decode() if row else None
        row = conn.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name LIKE ? LIMIT 1",
            (f"{TRIGGER}_%",),
        ).fetchone()
        if row is None:
            return None
        sql = str(row[0])
        return sql[sql.index(MARKER) :].split("'")[0]
