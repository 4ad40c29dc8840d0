"""Connections kept open between calls, for the read side's many short queries.

A list or lookup over HTTP is a handful of milliseconds of SQL; opening a connection for it
(TCP, authentication, settings) cost more than the query. A ``LazyPool`` opens its
``psycopg_pool.ConnectionPool`` on first use, in the process that uses it (a pool is never
shared across a fork), and whoever made it closes it (``close``): ``adapters/queries.attach``
closes the query path's pool with the ledger. Connections idle past ``MAX_IDLE`` seconds are
closed, so a pool left open holds nothing for long.

On SQLite, opening the file (and setting its journal mode) cost several times a short query
too: ``SqliteReaders`` (sqlite_readers.py) keeps a few connections for read transactions;
writes open their own.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from adapters.store.settings import connection_kwargs

MAX_SIZE = 8  # per process; the event store's own pool is 2 + 4 overflow (settings.py)
MAX_IDLE = 60.0  # seconds an unused connection is kept
#: seconds a caller waits for a pooled connection before opening one of its own, as before
#: the pool: a burst never fails, and a caller holding one connection while it asks for
#: another (a rebuild's reader and its batches) can never wait on itself
WAIT = 2.0


class LazyPool:
    """A connection pool for one database and schema, opened on first use."""

    def __init__(self, env: Mapping[str, str], options: str = "") -> None:
        self._kwargs = connection_kwargs(env, **({"options": options} if options else {}))
        self._lock = threading.Lock()
        self._pool: ConnectionPool[psycopg.Connection[Any]] | None = None
        self._pid = 0

    def _open(self) -> ConnectionPool[psycopg.Connection[Any]]:
        with self._lock:
            if self._pool is None or self._pid != os.getpid():
                # a child of a fork starts its own pool (the parent's sockets are not its own)
                self._pool = ConnectionPool(
                    kwargs=self._kwargs,
                    min_size=0,
                    max_size=MAX_SIZE,
                    max_idle=MAX_IDLE,
                    timeout=WAIT,
                    name="tollbook-read",
                    open=True,
                )
                self._pid = os.getpid()
            return self._pool

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection inside one transaction: committed when the block ends,
        rolled back on an error, then given back (as ``psycopg.connect``'s block does)."""
        with ExitStack() as stack:
            try:
                conn = stack.enter_context(self._open().connection(timeout=WAIT))
            except PoolTimeout:
                conn = stack.enter_context(psycopg.connect(**self._kwargs))
            yield conn

    def close(self) -> None:
        """Close every connection; a later use opens the pool again."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None and self._pid == os.getpid():
            pool.close()
