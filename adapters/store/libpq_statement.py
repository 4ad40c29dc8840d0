"""A read statement prepared on each connection and run by libpq itself (psycopg's ``pq`` layer).

psycopg's cursor spends ~35-65 µs of Python on every execute (its generators, the query's
conversion and the parameters' dumpers, the rows' loaders), and waits for the answer in a loop
that takes the GIL back on every wake-up. For the statements run on every request (an
aggregate's events, the API key) that was most of their cost. Here the statement is prepared
once per connection, its parameters are given already encoded, and libpq sends it and waits for
the whole answer in one call without the GIL: the same statement, the same round trip, the
same rows.

Only for single statements on a connection that is idle (autocommit, or outside a
transaction): the statement is its own snapshot, as it was through the cursor.
"""

from __future__ import annotations

import itertools
import weakref
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import errors, pq

#: ids of the types we send and read (pg_type oids)
INT8, TEXT, UUID_OID, BYTEA = 20, 25, 2950, 17

#: "prepared statement ... does not exist": the server dropped it (DISCARD ALL, a reset)
_UNKNOWN_STATEMENT = "26000"

_names = itertools.count(1)


class LibpqStatement:
    """One read statement (``$1``, ``$2``, ... markers) of fixed parameter types."""

    def __init__(self, text: str, types: Sequence[int]) -> None:
        self.name = f"tollbook_read_{next(_names)}".encode()
        self.text = text.encode()
        self.types = list(types)
        #: the connections this statement is prepared on
        self._prepared: weakref.WeakSet[psycopg.Connection[Any]] = weakref.WeakSet()

    def run(
        self,
        conn: psycopg.Connection[Any],
        values: Sequence[bytes],
        formats: Sequence[int],
        result_format: int = pq.Format.BINARY,
    ) -> pq.abc.PGresult:
        """The statement's whole answer; psycopg's error for the server's refusal."""
        pgconn = conn.pgconn
        if conn not in self._prepared:
            self._prepare(conn)
        result = pgconn.exec_prepared(self.name, values, formats, result_format)
        if result.status == pq.ExecStatus.FATAL_ERROR and (
            result.error_field(pq.DiagnosticField.SQLSTATE) == _UNKNOWN_STATEMENT.encode()
        ):
            self._prepare(conn)
            result = pgconn.exec_prepared(self.name, values, formats, result_format)
        if result.status != pq.ExecStatus.TUPLES_OK:
            raise result_error(result, conn)
        return result

    def _prepare(self, conn: psycopg.Connection[Any]) -> None:
        result = conn.pgconn.prepare(self.name, self.text, self.types)
        if result.status != pq.ExecStatus.COMMAND_OK:
            error = result_error(result, conn)
            if not isinstance(error, errors.DuplicatePreparedStatement):
                raise error
        self._prepared.add(conn)


def result_error(result: pq.abc.PGresult, conn: psycopg.Connection[Any]) -> psycopg.Error:
    """The error psycopg's cursor raises for this result: the server's refusal by its
    SQLSTATE; a connection lost meanwhile (a result without one, the connection now bad) is
    an ``OperationalError``, which the stores treat as the database being away (503)."""
    if conn.pgconn.status != pq.ConnStatus.OK or not result.error_field(
        pq.DiagnosticField.SQLSTATE
    ):
        message = result.error_message.decode(conn.info.encoding, "replace").strip()
        return psycopg.OperationalError(message or "the connection to PostgreSQL was lost")
    return errors.error_from_result(result, encoding=conn.info.encoding)


def not_null(value: bytes | None) -> bytes:
    """A column the statement never returns NULL in, as libpq gives it."""
    if value is None:
        raise errors.ProgrammingError("NULL where the statement returns none")
    return bytes(value)


def text_of(value: bytes | None, encoding: str) -> str:
    return not_null(value).decode(encoding)


def numbered(statement: str) -> str:
    """A statement with psycopg's ``%s`` markers, with libpq's ``$1``, ``$2``, ... instead."""
    parts = statement.split("%s")
    return "".join(
        part + (f"${index}" if index < len(parts) else "")
        for index, part in enumerate(parts, start=1)
    )
