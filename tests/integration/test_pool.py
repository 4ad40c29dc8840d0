"""PostgreSQL: the read side's connections come from a pool, closed with the ledger."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack

import pytest

import adapters.store.pool as pool_module
from adapters.ledger.application import Ledger
from adapters.queries import queries_for
from adapters.store.database import Database


@pytest.fixture
def db(pg_schema_url: str) -> Iterator[Database]:
    pooled = Database.from_url(pg_schema_url).pooled()
    yield pooled
    pooled.close()


def backend(db: Database) -> int:
    with db.connect(write=False) as conn:
        return int(conn.execute("SELECT pg_backend_pid()").fetchone()[0])


def alive(db: Database, pid: int) -> bool:
    with Database(db.dialect, db.env).connect() as conn:
        row = conn.execute("SELECT COUNT(*) FROM pg_stat_activity WHERE pid = %s", (pid,))
        return bool(row.fetchone()[0])


def test_calls_share_a_connection_until_the_pool_is_closed(db: Database) -> None:
    first = backend(db)
    assert backend(db) == first
    with db.connect() as conn:  # a write transaction, committed when the block ends
        conn.execute("CREATE TABLE kept (x INTEGER)")
        conn.execute("INSERT INTO kept VALUES (1)")
    with db.connect(write=False) as conn:
        assert conn.execute("SELECT x FROM kept").fetchall() == [(1,)]

    db.close()

    assert not alive(db, first)
    assert backend(db) != first  # used again: a new pool


def test_a_failed_transaction_is_rolled_back_before_the_connection_is_reused(
    db: Database,
) -> None:
    with db.connect() as conn:
        conn.execute("CREATE TABLE kept (x INTEGER)")
    with pytest.raises(ZeroDivisionError), db.connect() as conn:
        conn.execute("INSERT INTO kept VALUES (1)")
        raise ZeroDivisionError
    with db.connect(write=False) as conn:
        assert conn.execute("SELECT COUNT(*) FROM kept").fetchone()[0] == 0


def test_a_full_pool_opens_a_connection_of_its_own(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pool_module, "MAX_SIZE", 1)
    monkeypatch.setattr(pool_module, "WAIT", 0.05)
    with ExitStack() as held:
        outer = held.enter_context(db.connect(write=False))
        inner = held.enter_context(db.connect(write=False))  # would wait on itself
        pids = {conn.execute("SELECT pg_backend_pid()").fetchone()[0] for conn in (outer, inner)}
    assert len(pids) == 2


def test_closing_the_ledger_closes_the_queries_pool(
    store_url: str, make_ledger: Callable[[], Ledger]
) -> None:
    if store_url.startswith("sqlite"):
        pytest.skip("SQLite opens its file per call: no pool")
    ledger = make_ledger()
    queries = queries_for(ledger)
    queries.catch_up()
    pid = backend(queries.store.db)
    assert backend(queries.store.db) == pid

    ledger.close()

    assert not alive(queries.store.db, pid)
