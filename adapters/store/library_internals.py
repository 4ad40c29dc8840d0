"""What tollbook relies on inside the eventsourcing library beyond its public API, declared in
one place and checked, so that lifting the ``<9.6`` pin is a deliberate step.

Three kinds of reliance:

- **Overrides and calls** (``adapters/store/chain.py``): the recorders are subclassed to write
  the audit chain in the events' transaction, to write concurrent saves in one transaction
  (group commit) and to send PostgreSQL's events array in binary.
  Each library method involved is listed in ``INTERNALS`` with the signature tollbook calls or
  overrides and, where tollbook replaces or depends on what its body does, a fingerprint of
  its source (``inspect.getsource``): a new release that edits such a body must be read before
  tollbook runs on it.
- **Attributes** the overrides read (``events_table_name``, ``stored_event_type_name``, ...):
  checked on real recorders by the store tests.
- **The events table**, read with plain SQL by ``lookup.py``, ``audit.py``, the read models'
  backlog count and the portal (``EVENTS_TABLE_COLUMNS``; the position is SQLite's ``rowid``
  and PostgreSQL's ``notification_id``; SQLite keeps ids as 32 hex digits): checked on both
  stores by ``table_problems``.

``problems()`` and ``table_problems()`` return one message per difference, naming the
library's class and member, what tollbook expected, and which tollbook code relies on it;
``check()`` raises them all at once. ``chain.py`` (SQLite) and ``chain_postgres.py`` run the
signature check of their store's internals on import (cheap: no source is read), so a changed
library stops the store before it writes anything; the PostgreSQL internals are imported only
when asked for (``postgres_internals``), so a store on SQLite never loads psycopg;
``tests/unit/test_library_internals.py`` runs every check.

To upgrade: install the new version, run that test, read each named method's new code, carry
the change into the tollbook code named beside it, then update the signature or fingerprint
here (``fingerprint(Class.method)`` gives the new one).
"""

from __future__ import annotations

import hashlib
import inspect
import re
import sqlite3
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib.metadata import version
from typing import TYPE_CHECKING, Any, Literal

from eventsourcing.application import Application, ProcessingEvent
from eventsourcing.sqlite import SQLiteAggregateRecorder, SQLiteApplicationRecorder, SQLiteDatastore

if TYPE_CHECKING:
    from adapters.store.database import Database

Store = Literal["sqlite", "postgres"]

LIBRARY = "eventsourcing"
#: The version whose internals are declared below.
CHECKED_VERSION = "9.5.6"


class LibraryChanged(RuntimeError):
    """The installed eventsourcing differs from what tollbook's store relies on."""


@dataclass(frozen=True)
class Internal:
    owner: type
    name: str
    #: parameters after ``self`` as ``inspect.Signature`` prints them, without annotations
    signature: str
    #: where tollbook relies on it, and how
    used_by: str
    #: first 16 hex digits of the SHA-256 of the method's source; None: only the signature
    source: str | None = None

    @property
    def qualified(self) -> str:
        return f"{self.owner.__name__}.{self.name}"


SQLITE_INTERNALS: tuple[Internal, ...] = (
    Internal(
        SQLiteApplicationRecorder,
        "__init__",
        "(datastore, events_table_name='stored_events')",
        "chain.ChainedSQLiteRecorder.__init__ sets chain_table first: the base __init__ calls"
        " construct_create_table_statements",
    ),
    Internal(
        SQLiteAggregateRecorder,
        "__init__",
        "(datastore, events_table_name='stored_events')",
        "chain.ChainedSQLiteRecorder: the create statements are built in __init__",
        "88895a2823b5a2d2",
    ),
    Internal(
        SQLiteApplicationRecorder,
        "construct_create_table_statements",
        "()",
        "chain.ChainedSQLiteRecorder appends the chain table's CREATE",
    ),
    Internal(
        SQLiteApplicationRecorder,
        "_insert_events",
        "(c, stored_events, **_)",
        "chain.ChainedSQLiteRecorder._insert_events: the base inserts in the write transaction"
        " and returns the positions, which the chain rows are made from",
        "413cdf219c7bae63",
    ),
    Internal(
        SQLiteAggregateRecorder,
        "insert_events",
        "(stored_events, **kwargs)",
        "chain.ChainedSQLiteRecorder.insert_events replaces it for an application's saves"
        " (group commit: chain._write_saves opens the same one committing transaction) and"
        " calls it for a save with a tracking record, where chain.ChainedSQLiteRecorder."
        "_insert_events runs inside it (the chain rows commit with the events)",
        "32f60619a2ca6e6a",
    ),
    Internal(
        SQLiteAggregateRecorder,
        "select_events",
        "(originator_id, *, gt=None, lte=None, desc=False, limit=None)",
        "chain.ChainedSQLiteRecorder.select_events repeats its statement and its StoredEvent"
        " rows (convert_originator_id) on a kept connection, outside the library's pool",
        "9f67704c004bbbd4",
    ),
    Internal(
        SQLiteDatastore,
        "transaction",
        "(*, commit)",
        "chain.ChainedSQLiteRecorder._write_saves: one transaction under the pool's writer"
        " lock, committed on success and rolled back on any error (a savepoint per save)",
        "20e2038a98e68bdd",
    ),
    Internal(
        Application,
        "save",
        "(*objs, **kwargs)",
        "ledger.base.LedgerBase.save replaces it: the same steps (collect, _record,"
        " _take_snapshots, _notify, notify), a domain Aggregate's events collected without"
        " the runtime-Protocol isinstance checks",
        "4e9747d14b8fd046",
    ),
    Internal(
        ProcessingEvent,
        "collect_events",
        "(*objs, **kwargs)",
        "ledger.base.LedgerBase.save does for a domain Aggregate what this does for an"
        " aggregate (its events appended, the aggregate kept by id) and calls it for anything"
        " else",
        "7e3a7e6b1abd2bef",
    ),
    Internal(
        Application,
        "_record",
        "(processing_event)",
        "chain.grouped: an application's save passes tracking=None and nothing else; any other"
        " keyword takes the library's own path, not group commit",
        "104c6186b29d5059",
    ),
)


@cache
def postgres_internals() -> tuple[Internal, ...]:
    """The PostgreSQL recorder's internals (imports eventsourcing.postgres, hence psycopg)."""
    from eventsourcing.postgres import (
        PostgresAggregateRecorder,
        PostgresApplicationRecorder,
        PostgresDatastore,
    )

    return (
        Internal(
            PostgresApplicationRecorder,
            "__init__",
            "(datastore, *, events_table_name='stored_events')",
            "chain.ChainedPostgresRecorder.__init__ (sql_create_statements, channel, RETURNING)",
            "db36fb3de49a5292",
        ),
        Internal(
            PostgresAggregateRecorder,
            "__init__",
            "(datastore, *, events_table_name='stored_events')",
            "chain.ChainedPostgresRecorder.insert_events_binary repeats insert_events_statement"
            " with the array sent in binary (%b)",
            "78adbde8e22843ca",
        ),
        Internal(
            PostgresApplicationRecorder,
            "insert_events",
            "(stored_events, **kwargs)",
            "chain.ChainedPostgresRecorder.insert_events replaces it for an application's saves"
            " (group commit: chain._write_saves repeats its transaction in libpq_batch's three"
            " round trips, and its retry on InterfaceError/OperationalError) and calls it for a"
            " save with a tracking record: _insert_stored_events then"
            " _fetch_ids_after_insert_events in one transaction (the chain is written in it)",
            "f1a98da0239e3ea7",
        ),
        Internal(
            PostgresDatastore,
            "get_connection",
            "()",
            "chain.ChainedPostgresRecorder._write_saves: a pooled autocommit connection with the"
            " events' composite type registered, psycopg errors raised as the library's;"
            " chain_postgres.ChainedPostgresRecorder.select_events takes the same pool's"
            " connections (datastore.pool) itself and repeats the error mapping (library_error)",
            "8837a84cf3a8492e",
        ),
        Internal(
            PostgresAggregateRecorder,
            "select_events",
            "(originator_id, *, gt=None, lte=None, desc=False, limit=None)",
            "chain_postgres.ChainedPostgresRecorder.select_events repeats its statement (the"
            " four columns it reads), its prepared execution and its StoredEvent rows on a"
            " connection of datastore.pool, outside get_connection; a closed pool takes this",
            "429a54082f1c6766",
        ),
        Internal(
            PostgresApplicationRecorder,
            "_insert_stored_events",
            "(curs, stored_events, **kwargs)",
            "chain.ChainedPostgresRecorder._insert_stored_events replaces it: lock, notify, insert",
            "139580714a659085",
        ),
        Internal(
            PostgresAggregateRecorder,
            "_insert_stored_events",
            "(curs, stored_events, **_)",
            "chain.ChainedPostgresRecorder._insert_stored_events replaces it: composite values,"
            " one INSERT ... unnest",
            "80327aa859e4cc55",
        ),
        Internal(
            PostgresApplicationRecorder,
            "_lock_table",
            "(curs)",
            "chain.ChainedPostgresRecorder._insert_stored_events calls it (EXCLUSIVE lock: one"
            " chain order); _write_saves sends its lock_table_statements itself",
            "42bc9c135b4a93c1",
        ),
        Internal(
            PostgresApplicationRecorder,
            "_notify_channel",
            "(curs)",
            "chain.ChainedPostgresRecorder._insert_stored_events calls it; _write_saves sends its"
            " NOTIFY of channel_name itself; read_models LISTENs",
        ),
        Internal(
            PostgresAggregateRecorder,
            "construct_pg_stored_event",
            "(originator_id, originator_version, topic, state)",
            "chain.ChainedPostgresRecorder._insert_stored_events calls it",
        ),
        Internal(
            PostgresApplicationRecorder,
            "_fetch_ids_after_insert_events",
            "(curs, stored_events, **_)",
            "chain.ChainedPostgresRecorder._fetch_ids_after_insert_events: the base returns the"
            " positions of the insert, which the chain rows are made from",
            "9c8efbc1baf72b52",
        ),
    )


def internals(store: Store | None = None) -> tuple[Internal, ...]:
    """The declared internals of one store's recorder, or of both."""
    if store == "sqlite":
        return SQLITE_INTERNALS
    if store == "postgres":
        return postgres_internals()
    return SQLITE_INTERNALS + postgres_internals()


def __getattr__(name: str) -> Any:
    """``INTERNALS``: every declared internal, both stores (imports eventsourcing.postgres)."""
    if name == "INTERNALS":
        return internals()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: Attributes of a recorder instance that tollbook reads (see ``attribute_problems``).
SQLITE_ATTRIBUTES = (
    "events_table_name",
    "create_table_statements",
    "datastore",
    "convert_originator_id",
)
#: read by chain.ChainedSQLiteRecorder to open its own reading connections like the pool's
SQLITE_POOL_ATTRIBUTES = ("db_name", "lock_timeout", "is_sqlite_memory_mode")
POSTGRES_ATTRIBUTES = (
    "events_table_name",
    "stored_event_type_name",
    "sql_create_statements",
    "channel_name",
    "datastore",
    "lock_table_statements",
)
#: ``pool``: chain_postgres.ChainedPostgresRecorder.select_events takes its connections
POSTGRES_DATASTORE_ATTRIBUTES = (
    "schema",
    "enable_db_functions",
    "get_connection",
    "pool",
    "originator_id_type",
)

#: The events table's columns that tollbook's own SQL reads, per store.
EVENTS_TABLE_COLUMNS = {
    "sqlite": ("originator_id", "originator_version", "topic", "state"),
    "postgres": ("originator_id", "originator_version", "topic", "state", "notification_id"),
}


_HEX_ID = re.compile(r"[0-9a-f]{32}")


def fingerprint(method: Callable[..., Any]) -> str:
    source = inspect.getsource(method)
    return hashlib.sha256(source.encode()).hexdigest()[:16]


def _signature(method: Callable[..., Any]) -> str:
    parameters = list(inspect.signature(method).parameters.values())[1:]  # without self
    plain = [p.replace(annotation=inspect.Parameter.empty) for p in parameters]
    return str(inspect.Signature(plain))


def _installed() -> str:
    return f"{LIBRARY} {version(LIBRARY)} (declared for {CHECKED_VERSION})"


def problems(*, sources: bool = True, store: Store | None = None) -> list[str]:
    """One message per declared internal (of ``store``'s recorder, or both) that is missing,
    has another signature, or (with ``sources``) whose source changed."""
    found = []
    for internal in internals(store):
        # the class's own definition (or the one it inherits): what a call or super() reaches
        method = getattr(internal.owner, internal.name, None)
        where = f"{_installed()}: {internal.qualified}"
        if method is None or not callable(method):
            found.append(f"{where} is gone; tollbook relies on it: {internal.used_by}")
            continue
        signature = _signature(method)
        if signature != internal.signature:
            found.append(
                f"{where} now takes {signature}, not {internal.signature};"
                f" tollbook relies on it: {internal.used_by}"
            )
        if sources and internal.source is not None:
            try:
                now = fingerprint(method)
            except (OSError, TypeError):
                now = "unreadable"
            if now != internal.source:
                found.append(
                    f"{where} has changed (source fingerprint {now}, declared"
                    f" {internal.source}); read its new code and carry the change into:"
                    f" {internal.used_by}"
                )
    return found


def attribute_problems(recorder: object) -> list[str]:
    """Attributes tollbook reads that ``recorder`` (a SQLite or PostgreSQL application
    recorder of the store) does not have."""
    postgres = sys.modules.get("eventsourcing.postgres")  # a recorder of it exists: imported
    if postgres is not None and isinstance(recorder, postgres.PostgresApplicationRecorder):
        wanted: Sequence[str] = POSTGRES_ATTRIBUTES
        datastore_wanted: Sequence[str] = POSTGRES_DATASTORE_ATTRIBUTES
    else:
        wanted, datastore_wanted = SQLITE_ATTRIBUTES, ()
    kind = type(recorder).__name__
    missing = [f"{kind}.{name}" for name in wanted if not hasattr(recorder, name)]
    datastore = getattr(recorder, "datastore", None)
    missing += [
        f"{kind}.datastore.{name}" for name in datastore_wanted if not hasattr(datastore, name)
    ]
    if not datastore_wanted:
        pool = getattr(datastore, "pool", None)
        missing += [
            f"{kind}.datastore.pool.{name}"
            for name in SQLITE_POOL_ATTRIBUTES
            if not hasattr(pool, name)
        ]
    return [f"{_installed()}: {name} is gone; adapters/store/chain.py reads it" for name in missing]


def table_problems(db: Database, table: str) -> list[str]:
    """What tollbook's own SQL expects of the events table ``table`` in ``db`` and does not
    find: a column, SQLite's ``rowid`` as the position, SQLite's ids as 32 hex digits."""
    with db.connect(write=False) as conn:
        if db.dialect == "sqlite":
            columns = {str(row[1]) for row in conn.execute(f'PRAGMA table_info("{table}")')}
        else:
            columns = {
                str(row[0])
                for row in conn.execute(
                    "SELECT column_name FROM information_schema.columns"
                    " WHERE table_schema = current_schema() AND table_name = %s",
                    (table,),
                )
            }
        found = [
            f"the {db.dialect} events table {table!r} has no column {column}"
            for column in EVENTS_TABLE_COLUMNS[db.dialect]
            if column not in columns
        ]
        if db.dialect == "sqlite" and not found:
            try:
                row = conn.execute(f'SELECT rowid, originator_id FROM "{table}" LIMIT 1').fetchone()
            except sqlite3.OperationalError as error:  # a WITHOUT ROWID table
                found.append(f"the sqlite events table {table!r} has no rowid ({error})")
            else:
                if row is not None and not _HEX_ID.fullmatch(str(row[1])):
                    found.append(
                        f"the sqlite events table {table!r} keeps ids as {row[1]!r},"
                        " not 32 hex digits"
                    )
    readers = "adapters/store/lookup.py, adapters/audit.py, adapters/store/read_models.py"
    return [f"{_installed()}: {problem}; read by {readers}" for problem in found]


def check(*, sources: bool = False, store: Store | None = None) -> None:
    """Raise LibraryChanged naming every difference (signatures only unless ``sources``) in
    the internals of ``store``'s recorder, or of both."""
    found = problems(sources=sources, store=store)
    if found:
        raise LibraryChanged(
            "the installed eventsourcing is not the one tollbook's store was written"
            " against (see adapters/store/library_internals.py):\n- " + "\n- ".join(found)
        )
