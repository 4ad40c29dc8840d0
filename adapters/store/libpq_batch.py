"""A group-commit batch written by libpq itself: three calls, each waiting without the GIL.

The PostgreSQL writer holds the events table's EXCLUSIVE lock from its first round trip to its
commit, so whatever it does meanwhile is every other save's wait. Through psycopg's pipeline a
batch cost ~1.6 ms of Python (the pipeline's bookkeeping, three cursors, the composite and
array dumpers), and psycopg's wait loop took the GIL back at every wake-up, each time queueing
behind ~20 request threads. Here each round trip is one libpq call (``PQexec`` /
``PQexecPrepared``) that sends, waits and reads the whole answer with the GIL released:

1. ``BEGIN``, the library's lock statements, ``NOTIFY``, then one ``SELECT`` of the chain's last
   link and of the batch's (aggregate, version) pairs already stored (a simple query: its
   values are inlined as escaped literals, the last statement's rows are the answer);
2. the events' ``INSERT ... SELECT FROM unnest`` of four binary arrays (prepared once per
   connection), ``RETURNING`` their positions;
3. the links' ``INSERT`` (escaped literals) and ``COMMIT``, one simple query.

A refused statement stops the simple query where it is; the caller rolls back.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.persistence import StoredEvent
from psycopg import pq

from adapters.store.libpq_statement import (
    BYTEA,
    INT8,
    TEXT,
    UUID_OID,
    LibpqStatement,
    not_null,
    result_error,
    text_of,
)

#: pg_type oids of the arrays sent in binary
UUID_ARRAY, TEXT_ARRAY, INT8_ARRAY, BYTEA_ARRAY = 2951, 1009, 1016, 1001

_ARRAY_HEAD = struct.Struct("!iiiii")  # dimensions, has nulls, element type, length, lower bound
_LENGTH = struct.Struct("!i")
_INT8 = struct.Struct("!q")

#: a chain row: position, aggregate, version, previous position, hash
Link = tuple[int, str, int, int, str]


@dataclass
class BatchWriter:
    """The batch's statements for one recorder, rendered once."""

    #: run after BEGIN, before the reads (the library's lock statements, NOTIFY, settings)
    head: list[str]
    #: the chain's last link: ``SELECT position, hash ... LIMIT 1``
    last_link: str
    #: ``SELECT 1, id text, version text`` of the stored pairs among ``{ids}``, ``{versions}``
    taken: str
    #: the events' insert, ``$1``-``$4``: ids, versions, topics, states; RETURNING positions
    insert_events: str
    #: the links' insert, with ``{positions}``, ``{ids}``, ``{versions}``, ``{previous}``,
    #: ``{hashes}`` for array literals
    links: str
    #: the events table's ids are ``uuid`` (else ``text``)
    uuids: bool
    _insert: LibpqStatement | None = field(default=None, init=False)

    def begin(
        self, conn: psycopg.Connection[Any], events: Sequence[StoredEvent]
    ) -> tuple[tuple[int, str] | None, set[tuple[str, int]]]:
        """Begin, lock, notify; the chain's last link and the events' stored (id, version)."""
        escaping = pq.Escaping(conn.pgconn)
        reads = f"SELECT 0, position::text, hash FROM ({self.last_link}) AS last UNION ALL " + (
            _fill(
                self.taken,
                {
                    "ids": _literal(escaping, [str(e.originator_id) for e in events]),
                    "versions": _literal(escaping, [int(e.originator_version) for e in events]),
                },
            )
        )
        result = _simple(conn, ";".join(["BEGIN", *self.head, reads]), pq.ExecStatus.TUPLES_OK)
        encoding = conn.info.encoding
        last: tuple[int, str] | None = None
        taken: set[tuple[str, int]] = set()
        for row in range(result.ntuples):
            kind, first, second = (text_of(result.get_value(row, c), encoding) for c in range(3))
            if kind == "0":
                last = (int(first), second)
            else:  # the id as its text, as str() of the UUID gives it
                taken.add((first, int(second)))
        return last, taken

    def insert(self, conn: psycopg.Connection[Any], events: Sequence[StoredEvent]) -> list[int]:
        """The events inserted in order; their positions, in the same order."""
        if self._insert is None:
            self._insert = LibpqStatement(
                self.insert_events,
                [UUID_ARRAY if self.uuids else TEXT_ARRAY, INT8_ARRAY, TEXT_ARRAY, BYTEA_ARRAY],
            )
        encoding = conn.info.encoding
        if self.uuids:
            ids = _array(UUID_OID, [_uuid(e.originator_id).bytes for e in events])
        else:
            ids = _array(TEXT, [str(e.originator_id).encode(encoding) for e in events])
        result = self._insert.run(
            conn,
            [
                ids,
                _array(INT8, [_INT8.pack(e.originator_version) for e in events]),
                _array(TEXT, [e.topic.encode(encoding) for e in events]),
                _array(BYTEA, [bytes(e.state) for e in events]),
            ],
            [pq.Format.BINARY] * 4,
        )
        position = result.get_value
        return [_INT8.unpack(not_null(position(row, 0)))[0] for row in range(result.ntuples)]

    def link_and_commit(self, conn: psycopg.Connection[Any], rows: Sequence[Link]) -> None:
        """The chain's new links inserted, and the batch committed."""
        escaping = pq.Escaping(conn.pgconn)
        names = ("positions", "ids", "versions", "previous", "hashes")
        columns = zip(names, zip(*rows, strict=True), strict=True)
        literals = {name: _literal(escaping, column) for name, column in columns}
        _simple(conn, _fill(self.links, literals) + ";COMMIT", pq.ExecStatus.COMMAND_OK)

    def commit(self, conn: psycopg.Connection[Any]) -> None:
        _simple(conn, "COMMIT", pq.ExecStatus.COMMAND_OK)


def _simple(conn: psycopg.Connection[Any], query: str, expected: pq.ExecStatus) -> Any:
    """One simple query (one or more statements); the last statement's result, or psycopg's
    error for the first statement the server refused."""
    result = conn.pgconn.exec_(query.encode(conn.info.encoding))
    if result.status != expected:
        raise result_error(result, conn)
    return result


_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def _fill(template: str, literals: dict[str, str]) -> str:
    """``template`` with each ``{name}`` replaced by its literal, in one pass: a literal's own
    text (an aggregate id, say) is never read again as a placeholder."""
    return _PLACEHOLDER.sub(lambda match: literals[match.group(1)], template)


def _literal(escaping: pq.abc.Escaping, values: Sequence[object]) -> str:
    """An array literal of ``values`` (ints or text), escaped as a string constant."""
    elements = ",".join(
        str(value)
        if isinstance(value, int)
        else '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
        for value in values
    )
    return bytes(escaping.escape_literal(("{" + elements + "}").encode())).decode()


def _array(element: int, items: Sequence[bytes]) -> bytes:
    """A one-dimensional array without NULLs in PostgreSQL's binary format."""
    if not items:
        return _ARRAY_HEAD.pack(0, 0, element, 0, 0)[:12]
    return _ARRAY_HEAD.pack(1, 0, element, len(items), 1) + b"".join(
        _LENGTH.pack(len(item)) + item for item in items
    )


def _uuid(value: UUID | str) -> UUID:
    return value if isinstance(value, UUID) else UUID(value)
