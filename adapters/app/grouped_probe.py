"""PostgreSQL: the kept reads' probes of requests waiting at the same time, asked in one
statement, on the event loop.

A kept read is answered only from what the database says after the request came in: the
caller's key live (its scope) and the read where its kept answer was made
(adapters/app/reads.py says why). On PostgreSQL that is a round trip per request; asked one
by one, every request paid a worker thread, psycopg's execution and a backend's wake-up
(~230 µs of the process's CPU and ~80 µs of the backend's: as much as all the rest of a
kept read).

**The consistency rule.** A statement answers only the requests that were waiting *before it
was sent*; a request that comes in while one is under way waits for the next, sent as soon
as that one returns. So every answer still comes from a snapshot taken after its request
arrived, as with one probe each: a write or a revocation committed (in any process) before
a request was sent is seen by that request, and a client never gets an older answer than
one it already had. Under load, one statement answers every request that arrived during the
last round trip.

One connection (autocommit: the statement is its own snapshot), opened on first use by the
event loop that asks and opened again after any error; an error fails the requests of that
statement, which are then answered the ordinary way.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, cast
from uuid import UUID

import structlog
from psycopg import errors

from adapters.app.api_keys import Scope, hash_key
from adapters.app.reads import DOCUMENTS_ASKED, DocumentsGate, Probe, current_documents
from adapters.store.database import Database
from adapters.store.read_models import TRACKING_TABLE

log = structlog.get_logger("tollbook.http")

#: milliseconds a probe statement may take before its requests go to the route instead
STATEMENT_TIMEOUT_MS = 5000


@dataclass(frozen=True)
class _Ask:
    key_hash: str
    names: tuple[str, ...] | None  # a list: the read models it is made from
    aggregate_id: UUID | None  # one aggregate: its id
    document: bool = False  # and its stored document (an invoice's), if it is current


_Waiting = list[tuple[_Ask, "asyncio.Future[Probe]"]]


class GroupedProbe:
    """``ReadProbe``'s questions on PostgreSQL, asked together (see the module's rule)."""

    #: whether ``version(..., document=True)`` reads an invoice's stored document
    documents = True

    def __init__(self, db: Database, events_table: str) -> None:
        if not events_table.replace("_", "").isalnum():
            raise ValueError(f"unusable events table name {events_table!r}")
        self.db = db
        # one text whatever is asked, planned once per connection (``_open``); what is
        # asked and answered is space-separated words (hashes, names, ids, numbers): cheaper
        # on both sides than arrays or JSON
        self._statement = base = (
            "SELECT (SELECT string_agg(key_hash || ' ' || scope, ' ') FROM api_keys"
            " WHERE key_hash = ANY(string_to_array(%s::text, ' ')) AND revoked_at IS NULL),"
            f" (SELECT string_agg(name || ' ' || position, ' ') FROM {TRACKING_TABLE}"
            " WHERE name = ANY(string_to_array(%s::text, ' '))),"
            f" (SELECT MAX(notification_id) FROM {events_table}),"
            " (SELECT string_agg(COALESCE((SELECT MAX(originator_version)"
            f" FROM {events_table} WHERE originator_id = asked.id)::text, '-'), ' ' ORDER BY n)"
            " FROM unnest(string_to_array(%s::text, ' ')::uuid[]) WITH ORDINALITY"
            " AS asked(id, n))"
        )
        self._with_documents = (
            f"{base},"
            # the stored documents asked for, each only at its invoice's current version and
            # only from the read model's tables of the shape they are read as
            " (SELECT json_object_agg(d.invoice_id, d.document::json)"
            + current_documents(
                events_table,
                "= ANY(string_to_array(%s::text, ' '))",
                "%s",
                "d.invoice_id::uuid",
            )
            + ")"
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._conn: Any = None  # psycopg.AsyncConnection, on self._loop
        self._waiting: _Waiting = []
        self._asking: _Waiting = []
        self._task: asyncio.Task[None] | None = None
        self._documents = DocumentsGate()

    async def list_position(self, key: str, names: tuple[str, ...]) -> Probe:
        """The key's scope, and the log's head when every read model in ``names`` holds it."""
        return await self._ask(_Ask(hash_key(key), names, None))

    async def version(self, key: str, aggregate_id: UUID, document: bool = False) -> Probe:
        """The key's scope, and the aggregate's current version (None: no such aggregate);
        with ``document``, an invoice's stored document too, when it is at that version."""
        return await self._ask(_Ask(hash_key(key), None, aggregate_id, document))

    async def _ask(self, ask: _Ask) -> Probe:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a connection belongs to the loop that opened it
            self._forget()
            self._loop = loop
        future: asyncio.Future[Probe] = loop.create_future()
        self._waiting.append((ask, future))
        if self._task is None:
            self._task = loop.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._waiting:
                # the requests waiting now, and only those, are answered by this statement
                self._asking, self._waiting = self._waiting, []
                try:
                    found = await self._probe([ask for ask, _ in self._asking])
                except Exception as error:  # the callers answer the ordinary way
                    log.debug("kept read: grouped probe failed", exc_info=True)
                    self._close()
                    for _, future in self._asking:
                        if not future.done():
                            future.set_exception(error)
                else:
                    for (_, future), probe in zip(self._asking, found, strict=True):
                        if not future.done():
                            future.set_result(probe)
                self._asking = []
        finally:
            for _, future in [*self._asking, *self._waiting]:  # cancelled: nobody waits on
                future.cancel()
            self._asking, self._waiting = [], []
            self._task = None

    async def _probe(self, asks: list[_Ask]) -> list[Probe]:
        if self._conn is None or self._conn.closed:
            self._conn = await self._open()
        keys = {ask.key_hash for ask in asks}
        names = {name for ask in asks for name in ask.names or ()}
        ids = list(dict.fromkeys(str(ask.aggregate_id) for ask in asks if ask.aggregate_id))
        documents = {str(ask.aggregate_id) for ask in asks if ask.document}
        asked = (" ".join(keys), " ".join(names), " ".join(ids))
        row: Any = None
        if documents and self._documents.open():
            try:
                row = await self._row(
                    self._with_documents,
                    (*asked, " ".join(documents), *DOCUMENTS_ASKED),
                )
            except (errors.UndefinedTable, errors.UndefinedColumn):
                # no invoice documents read model here (yet, or of another shape): the
                # requests are answered without for a while, the route folds the invoice
                self._documents.missing()
        if row is None:
            row = (*await self._row(self._statement, asked), None)
        scopes, positions, head, versions, stored = cast(
            tuple[str | None, str | None, Any, Any, dict[str, Any] | None], row
        )
        stored = stored or {}
        scope_of = _pairs(scopes)
        position_of = {name: int(position) for name, position in _pairs(positions).items()}
        head = int(head or 0)
        version_of = dict(zip(ids, (versions or "").split(), strict=True))
        found = []
        for ask in asks:
            scope = cast(Scope | None, scope_of.get(ask.key_hash))
            if ask.names is not None:
                held = all(position_of.get(name, -1) >= head for name in ask.names)
                found.append(Probe(scope, head if held else None))
            else:
                version = version_of.get(str(ask.aggregate_id), "-")
                doc = stored.get(str(ask.aggregate_id)) if ask.document else None
                found.append(Probe(scope, None if version == "-" else int(version), doc))
        return found

    async def _row(self, statement: str, params: tuple[str, ...]) -> tuple[Any, ...]:
        cursor = await self._conn.execute(statement, params, prepare=True)
        return cast(tuple[Any, ...], await cursor.fetchone())

    async def _open(self) -> Any:
        conn = await self.db.async_autocommit_connection()
        # the statement's arrays make PostgreSQL plan it anew on each run otherwise (a
        # custom plan: ~150 µs of the backend's CPU, twice the run itself)
        await conn.execute("SET plan_cache_mode = force_generic_plan")
        # a statement held up (a lock taken by a migration) fails its requests over to the
        # route rather than hold every kept read of the process behind it
        await conn.execute(f"SET statement_timeout = {STATEMENT_TIMEOUT_MS}")
        return conn

    def _forget(self) -> None:
        """Drop the connection of another (ended) event loop without waiting on it."""
        conn, self._conn = self._conn, None
        self._task = None
        self._waiting, self._asking = [], []
        if conn is not None:
            _finish(conn)

    def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            _finish(conn)

    def close(self) -> None:
        self._close()


def _pairs(words: str | None) -> dict[str, str]:
    """``"a 1 b 2"`` -> ``{"a": "1", "b": "2"}``."""
    split = (words or "").split()
    return dict(zip(split[::2], split[1::2], strict=True))


def _finish(conn: Any) -> None:
    try:
        conn.pgconn.finish()  # the socket closed at once, from any thread or loop
    except Exception:  # closing a broken connection: nothing more to do
        log.debug("grouped probe: closing its connection failed", exc_info=True)
