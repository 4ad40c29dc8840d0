"""Reading the store with ``sqlite3`` or psycopg alone, for the CLI's quick answers (``settings
show``, ``invoice show``): no pydantic, eventsourcing or domain model imported, no ledger built
(docs/performance.md, "CLI start").

``direct_store`` says whether such a read can be relied on at all; each reader then returns
None whenever its own answer cannot be, and the command takes the ledger's path, which answers
or says why it cannot: the library's own ``PERSISTENCE_MODULE`` variables, its compressor or
cipher configured, a store other than a SQLite file or PostgreSQL, the store unreachable, a
table missing.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from adapters.store.settings import database_url, store_env

#: the library's events table in each store (the ledger's recorder names it)
SQLITE_EVENTS, POSTGRES_EVENTS = "stored_events", "tollbook_events"

# the library's settings that change how a stored event's bytes read
_ENCODING_SETTINGS = ("COMPRESSOR_TOPIC", "CIPHER_TOPIC", "CIPHER_KEY")

Dialect = Literal["sqlite", "postgres"]
Rows = list[tuple[Any, ...]]


def direct_store(
    given_url: str | None, environ: Mapping[str, str] | None = None
) -> tuple[Dialect, dict[str, str]] | None:
    """The store at ``given_url`` (None: the configured one) as (dialect, the library's store
    settings), or None when only the ledger may read it."""
    environ = os.environ if environ is None else environ
    library_configured = "TOLLBOOK_DATABASE_URL" not in environ and "PERSISTENCE_MODULE" in environ
    if given_url is None and library_configured:  # the library's own variables: ledger's path
        return None
    if any(environ.get(name) for name in _ENCODING_SETTINGS):
        return None
    url = given_url or database_url(environ)
    if url.startswith("sqlite:"):
        return "sqlite", store_env(url)
    if url.startswith(("postgres:", "postgresql:")):
        return "postgres", store_env(url)
    return None


def sqlite_rows(env: Mapping[str, str], query: str, params: Sequence[Any]) -> Rows | None:
    """The rows of one read-only query (one snapshot), or None when the file is not there, not
    a store, or lacks a table the query names (the ledger creates them)."""
    path = env.get("SQLITE_DBNAME", "")
    if not path or path == ":memory:" or not Path(path).is_file():
        return None
    try:
        connection = sqlite3.connect(f"file:{quote(path)}?mode=ro", uri=True, timeout=30)
        try:
            return connection.execute(query, params).fetchall()
        finally:
            connection.close()
    except sqlite3.Error:
        return None


def postgres_rows(env: Mapping[str, str], query: str, params: Sequence[Any]) -> Rows | None:
    """The rows of one query (one snapshot), its ``{schema}`` the store's schema; None when the
    store does not answer or lacks a table (the ledger's path then says why, or creates it)."""
    # psycopg alone costs ~115 ms of CPU to import (docs/performance.md): still far less than
    # pydantic and the domain, and the set-up lock build_ledger takes is not needed to read
    import psycopg
    from psycopg import sql

    from adapters.store.settings import postgres_connect

    schema = sql.Identifier(env.get("POSTGRES_SCHEMA", "").strip() or "public")
    statement = sql.SQL(query).format(schema=schema)
    try:
        with postgres_connect(env, connect_timeout=10) as connection:
            return connection.execute(statement, params).fetchall()
    except psycopg.Error:
        return None
