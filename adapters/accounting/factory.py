"""Builds a connection's client with the exporter's retry and rate-limit policy."""

from __future__ import annotations

import time
from collections.abc import Callable

from adapters.accounting.client import AccountingClient
from adapters.accounting.config import Connection
from adapters.accounting.exporter import Exporter
from adapters.accounting.policy import CallPolicy, RateLimiter
from adapters.accounting.store import ExportStore
from adapters.ledger.application import Ledger
from adapters.store.database import Database

#: Published per-minute call limits (Xero: 60 per organisation); 0 means none we know of.
DEFAULT_CALLS_PER_MINUTE = {"xero": 60, "clearbooks": 0, "freshbooks": 0}


def policy_for(
    connection: Connection,
    *,
    sleep: Callable[[float], None] | None = None,
    clock: Callable[[], float] | None = None,
) -> CallPolicy:
    """Real waits unless told otherwise (looked up per call, so tests can replace them)."""
    sleep = sleep or (lambda seconds: time.sleep(seconds))
    clock = clock or time.monotonic
    per_minute = connection.calls_per_minute or DEFAULT_CALLS_PER_MINUTE[connection.system]
    limiter = RateLimiter(per_minute, 60.0, clock=clock, sleep=sleep) if per_minute else None
    return CallPolicy(max_attempts=connection.max_attempts, sleep=sleep, limiter=limiter)


def client_for(connection: Connection, policy: CallPolicy) -> AccountingClient:
    if connection.system == "xero":
        from adapters.accounting.xero import XeroClient

        return XeroClient(connection, policy)
    if connection.system == "clearbooks":
        from adapters.accounting.clearbooks import ClearBooksClient

        return ClearBooksClient(connection, policy)
    from adapters.accounting.freshbooks import FreshBooksClient

    return FreshBooksClient(connection, policy)


def build_exporter(
    ledger: Ledger,
    database_url: str,
    connection: Connection,
    *,
    sleep: Callable[[float], None] | None = None,
    clock: Callable[[], float] | None = None,
    on_event: Callable[[int], None] | None = None,
) -> Exporter:
    policy = policy_for(connection, sleep=sleep, clock=clock)
    store = ExportStore(Database.from_url(database_url))
    return Exporter(ledger, store, connection, client_for(connection, policy), on_event=on_event)
