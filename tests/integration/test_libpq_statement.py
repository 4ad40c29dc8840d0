"""PostgreSQL: a statement run by libpq itself (``LibpqStatement``, ``Database.read_text_row``)
gives the rows psycopg's cursor gives, survives the server forgetting its prepared statements,
raises psycopg's error for a refused statement and leaves the connection idle and usable."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from psycopg import pq

from adapters.store.database import Database
from adapters.store.libpq_statement import TEXT, LibpqStatement, numbered
from tests.conftest import _pg_connect


@pytest.fixture
def conn() -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    with _pg_connect() as connection:  # skips, or fails under CI, without PostgreSQL
        yield connection


def texts(result: pq.abc.PGresult) -> list[tuple[str | None, ...]]:
    return [
        tuple(
            None if value is None else bytes(value).decode()
            for value in (result.get_value(row, col) for col in range(result.nfields))
        )
        for row in range(result.ntuples)
    ]


def test_numbered_markers() -> None:
    assert numbered("SELECT 1 WHERE a = %s AND b > %s") == "SELECT 1 WHERE a = $1 AND b > $2"
    assert numbered("SELECT 1") == "SELECT 1"


def test_rows_as_the_cursor_gives_them_after_the_server_forgot_the_statement(
    conn: psycopg.Connection[tuple[object, ...]],
) -> None:
    statement = LibpqStatement(
        "SELECT x::text, NULLIF(x, 'b') FROM unnest(ARRAY['a', 'b', $1]) AS x", [TEXT]
    )
    expected = [("a", "a"), ("b", None), ("c's", "c's")]
    assert texts(statement.run(conn, [b"c's"], [0], pq.Format.TEXT)) == expected
    conn.execute("DEALLOCATE ALL")  # as a pool's reset or a server-side DISCARD would
    assert texts(statement.run(conn, [b"c's"], [0], pq.Format.TEXT)) == expected
    cursor_rows = conn.execute(
        "SELECT x, NULLIF(x, 'b') FROM unnest(ARRAY['a', 'b', %s]) AS x", ("c's",)
    )
    assert list(cursor_rows) == expected


def test_a_refused_statement_raises_psycopgs_error_and_the_connection_stays_usable(
    conn: psycopg.Connection[tuple[object, ...]],
) -> None:
    statement = LibpqStatement("SELECT 1 LIMIT $1", [20])
    with pytest.raises(psycopg.errors.InvalidRowCountInLimitClause):
        statement.run(conn, [(-1).to_bytes(8, "big", signed=True)], [1])
    assert conn.pgconn.transaction_status == pq.TransactionStatus.IDLE
    result = statement.run(conn, [(1).to_bytes(8, "big", signed=True)], [1], pq.Format.TEXT)
    assert texts(result) == [("1",)]


def test_a_statement_that_cannot_be_prepared_raises_and_is_not_taken_as_prepared(
    conn: psycopg.Connection[tuple[object, ...]],
) -> None:
    statement = LibpqStatement("SELECT * FROM no_such_table_here WHERE a = $1", [TEXT])
    for _ in range(2):
        with pytest.raises(psycopg.errors.UndefinedTable):
            statement.run(conn, [b"x"], [0])
    assert conn.execute("SELECT 1").fetchone() == (1,)


def test_read_text_row_gives_text_and_null_or_none(pg_schema_url: str) -> None:
    db = Database.from_url(pg_schema_url).pooled()
    try:
        with db.connect() as pg:
            pg.execute("CREATE TABLE keys (name TEXT, hint TEXT, revoked TEXT)")
            pg.execute("INSERT INTO keys VALUES ('a', 'h''1', NULL), ('b', 'é', 'x')")
        statement = "SELECT name, hint, revoked FROM keys WHERE name = ?"
        for _ in range(2):  # the second time on a prepared statement
            assert db.read_text_row(statement, ("a",)) == ("a", "h'1", None)
            assert db.read_text_row(statement, ("b",)) == ("b", "é", "x")
            assert db.read_text_row(statement, ("z",)) is None
    finally:
        db.close()


def test_a_connection_lost_under_the_statement_is_an_operational_error(
    conn: psycopg.Connection[tuple[object, ...]],
) -> None:
    """As psycopg's cursor raises it, so the stores answer 503 (the database is away), not 500."""
    statement = LibpqStatement("SELECT $1::text", [TEXT])
    assert texts(statement.run(conn, [b"x"], [0], pq.Format.TEXT)) == [("x",)]
    with _pg_connect() as other:
        other.execute("SELECT pg_terminate_backend(%s)", [conn.info.backend_pid])

    with pytest.raises(psycopg.OperationalError):
        statement.run(conn, [b"x"], [0], pq.Format.TEXT)
    assert conn.closed  # psycopg sees it too: a pool drops it
