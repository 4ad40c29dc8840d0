"""SQLite connections kept open between read transactions (no psycopg here: a store on SQLite
never imports it). Opening the file and setting its journal mode cost several times a short
query."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

MAX_SIZE = 8  # idle connections kept per process, by default


class SqliteReaders:
    """SQLite connections for read transactions, kept open between calls (at most
    ``max_idle`` idle). A connection that saw an error, or is left inside a transaction, is
    closed rather than kept; a child of a fork opens its own."""

    def __init__(
        self, open_connection: Callable[[], sqlite3.Connection], max_idle: int = MAX_SIZE
    ) -> None:
        self._open = open_connection
        self._max_idle = max_idle
        self._lock = threading.Lock()
        self._idle: list[sqlite3.Connection] = []
        self._pid = os.getpid()

    def _take(self) -> sqlite3.Connection | None:
        with self._lock:
            if self._pid != os.getpid():  # the parent's connections are not this process's
                self._idle, self._pid = [], os.getpid()
            return self._idle.pop() if self._idle else None

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        conn = self._take() or self._open()
        try:
            yield conn
        except BaseException:
            conn.close()
            raise
        with self._lock:
            keep = not conn.in_transaction and self._pid == os.getpid()
            if keep and len(self._idle) < self._max_idle:
                self._idle.append(conn)
                return
        conn.close()

    def close(self) -> None:
        """Close the idle connections; a later use opens new ones."""
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()
