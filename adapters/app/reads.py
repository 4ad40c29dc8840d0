"""What a kept read needs to know, in one query: is the caller's key live (its scope), and
where does the read stand (the log's head held by its read models, or an aggregate's version).

``tollbook serve`` answers a GET it has answered before, while nothing changed, from the bytes
it kept (adapters/http/conditional.py). Deciding that takes this one statement (autocommit:
it is its own snapshot) instead of a key look-up, a catch-up check and the read.
The key is checked on every request, so a revoked key is refused on the next one, as always.
On SQLite the statement is asked here, on the event loop's thread (tens of microseconds of
local work); on PostgreSQL the requests waiting at the same time ask it together
(adapters/app/grouped_probe.py).

A first read of one invoice (nothing kept yet) may also ask for its stored document (the
invoice documents read model), taken only when it is at the invoice's current version read
in the same statement (one snapshot) and from the read model's tables of the shape it is read
as (``current_documents``, both stores); the route's answer is then made without the fold.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from typing import Any, cast
from uuid import UUID

import structlog

from adapters.app.api_keys import Scope, hash_key
from adapters.store.database import Database
from adapters.store.read_models import TRACKING_TABLE
from adapters.store.stored_invoices import DOCUMENTS
from adapters.store.stored_invoices import READ_MODEL as DOCUMENTS_READ_MODEL
from adapters.store.stored_invoices import SHAPE as DOCUMENTS_SHAPE

log = structlog.get_logger("tollbook.http")

#: seconds a store without the invoice documents read model is not asked for documents
DOCUMENTS_RETRY_SECONDS = 60.0
#: the read model's name and the shape of its tables, asked after the invoice ids
DOCUMENTS_ASKED = (DOCUMENTS_READ_MODEL, DOCUMENTS_SHAPE)


def current_documents(events_table: str, ids: str, mark: str, originator: str) -> str:
    """``FROM`` and ``WHERE`` of the stored invoice documents ``d`` whose invoice id is in
    ``ids`` (a condition on ``d.invoice_id``), each only at its invoice's current version in
    the same statement (``originator``: ``d``'s invoice as the event table spells ids) and
    only from the read model's tables of the shape they are read as (``mark``: the
    parameters after the ids, ``DOCUMENTS_ASKED``)."""
    return (
        f" FROM {DOCUMENTS} AS d WHERE d.invoice_id {ids}"
        f" AND EXISTS (SELECT 1 FROM {TRACKING_TABLE} WHERE name = {mark} AND shape = {mark})"
        f" AND d.version = (SELECT MAX(originator_version) FROM {events_table}"
        f" WHERE originator_id = {originator})"
    )


class DocumentsGate:
    """Whether to ask a store for stored documents: not for a while after it had none (the
    read model not there yet, or of another shape), when the route folds the invoice."""

    def __init__(self) -> None:
        self._after = 0.0

    def open(self) -> bool:
        return time.monotonic() >= self._after

    def missing(self) -> None:
        self._after = time.monotonic() + DOCUMENTS_RETRY_SECONDS


@dataclass(frozen=True)
class Probe:
    scope: Scope | None  # the live key's scope; None: unknown or revoked
    position: int | None  # where the read stands; None: not answerable from what is kept
    #: one invoice asked with ``document``: its stored document (the invoice documents read
    #: model) when that is at ``position``, the invoice's current version; else None
    document: dict[str, Any] | None = None


class ReadProbe:
    """SQLite: a few connections of its own for probes (autocommit: a probe is one
    statement), kept between calls; any error closes the connection it used (the next probe
    opens another) and is the caller's cue to answer the ordinary way. A probe is local
    work, so it runs on the event loop's thread."""

    KEEP = 4  # idle connections kept

    #: whether ``version(..., document=True)`` reads an invoice's stored document
    documents = True

    def __init__(self, db: Database, events_table: str) -> None:
        if db.dialect != "sqlite":
            raise ValueError("ReadProbe reads SQLite; PostgreSQL's probes are grouped")
        if not events_table.replace("_", "").isalnum():
            raise ValueError(f"unusable events table name {events_table!r}")
        self.db = db
        self.events_table = events_table
        self._version = (
            f"SELECT {self._key()}, (SELECT MAX(originator_version) FROM {events_table}"
            " WHERE originator_id = ?)"
        )
        # the event table spells ids in hex, the read model as ``str(UUID)``: both are asked
        self._with_document = (
            f"{self._version}, (SELECT d.document"
            f"{current_documents(events_table, '= ?', '?', '?')})"
        )
        self._gate = DocumentsGate()
        self._idle: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def _open(self) -> sqlite3.Connection:
        return sqlite3.connect(
            self.db.env["SQLITE_DBNAME"],
            timeout=5,
            isolation_level=None,
            check_same_thread=False,  # used by one thread at a time, not always the same
        )

    def _row(self, statement: str, params: tuple[Any, ...]) -> tuple[Any, ...]:
        with self._lock:
            conn = self._idle.pop() if self._idle else None
        if conn is None:
            conn = self._open()
        try:
            row = conn.execute(statement, params).fetchone()
        except Exception:
            _close(conn)
            raise
        with self._lock:
            if len(self._idle) < self.KEEP:
                self._idle.append(conn)
                conn = None
        if conn is not None:
            _close(conn)
        return cast(tuple[Any, ...], row)

    def _key(self) -> str:
        return "(SELECT scope FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL)"

    async def list_position(self, key: str, names: tuple[str, ...]) -> Probe:
        """The key's scope, and the log's head when every read model in ``names`` holds it."""
        marks = ", ".join("?" for _ in names)
        scope, head, lowest, count = self._row(
            f"SELECT {self._key()}, (SELECT MAX(rowid) FROM {self.events_table}),"
            f" MIN(position), COUNT(*) FROM {TRACKING_TABLE} WHERE name IN ({marks})",
            (hash_key(key), *names),
        )
        head = int(head or 0)
        held = int(count) == len(set(names)) and lowest is not None and int(lowest) >= head
        return Probe(cast(Scope | None, scope), head if held else None)

    async def version(self, key: str, aggregate_id: UUID, document: bool = False) -> Probe:
        """The key's scope, and the aggregate's current version (None: no such aggregate);
        with ``document``, an invoice's stored document too, when it is at that version."""
        asked = (hash_key(key), aggregate_id.hex)
        stored: str | None = None
        row: tuple[Any, ...] | None = None
        if document and self._gate.open():
            try:
                row = self._row(
                    self._with_document,
                    (*asked, str(aggregate_id), *DOCUMENTS_ASKED, aggregate_id.hex),
                )
            except sqlite3.OperationalError as error:
                if not str(error).startswith(("no such table", "no such column")):
                    raise
                self._gate.missing()  # the route folds the invoice, as before the read model
        if row is None:
            row = (*self._row(self._version, asked), None)
        scope, version, stored = row
        return Probe(
            cast(Scope | None, scope),
            None if version is None else int(version),
            _decoded(stored),
        )

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            _close(conn)


def _decoded(stored: str | None) -> dict[str, Any] | None:
    """A stored document's text as the route's content (None: none, or not one)."""
    if stored is None:
        return None
    try:
        doc = json.loads(stored)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def _close(conn: Any) -> None:
    try:
        conn.close()
    except Exception:  # closing a broken connection: nothing more to do
        log.debug("read probe: closing its connection failed", exc_info=True)
