"""Queries: every list, search, balance and lookup, answered by read models and indexes.

``queries_for(ledger)`` is the one entry point the CLI, the HTTP API, the portal, PDF batches
and exports share; ``attach`` (called by the composition root) gives a ledger on SQLite or
PostgreSQL its queries and its reference index.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from adapters.config_error import ConfigError
from adapters.queries.paging import DEFAULT_LIMIT, MAX_LIMIT, InvalidPage, Page

if TYPE_CHECKING:
    from adapters.ledger.application import Ledger
    from adapters.queries.lists import InvoiceQuery, Queries
    from adapters.store.database import Database
    from domain.customer import Customer

_ATTRIBUTE = "_tollbook_queries"


def __getattr__(name: str) -> Any:
    """``Queries`` and ``InvoiceQuery``, imported when first asked for: they bring the read
    side (psycopg, structlog, every projection), which importing a submodule of this package
    (``adapters.queries.paging``, ``.documents``) or a command that reads no list never needs."""
    if name in ("Queries", "InvoiceQuery"):
        from adapters.queries import lists

        return getattr(lists, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def attach(ledger: Ledger, env: Mapping[str, str]) -> None:
    """Give a ledger on an SQL store its queries and its reference index (no connection is
    opened until the first query)."""
    from adapters.queries.lists import Queries
    from adapters.queries.references import ReferenceIndex
    from adapters.store.database import Database
    from adapters.store.read_models import SqlViewStore

    module = env.get("PERSISTENCE_MODULE", "")
    table = getattr(ledger.recorder, "events_table_name", None)
    if not isinstance(table, str):
        return
    if module.endswith("sqlite"):
        db = Database("sqlite", dict(env))
    elif module.endswith("postgres"):
        db = Database("postgres", dict(env))
    else:
        return
    pooled = db.pooled()  # lists and lookups are many short queries
    queries = Queries(ledger, SqlViewStore(pooled, table))
    setattr(ledger, _ATTRIBUTE, queries)
    ledger.references = ReferenceIndex(queries)
    _close_with(ledger, pooled)


def _close_with(ledger: Ledger, db: Database) -> None:
    """Closing the ledger closes the queries' pool too (a test drops the schema next)."""
    close_ledger = ledger.close

    def close() -> None:
        try:
            close_ledger()
        finally:
            db.close()

    ledger.close = close  # type: ignore[method-assign]


def _found(ledger: Ledger) -> object:
    """The ledger's queries, attached now if the composition root deferred it
    (adapters/config.py ``QueriesOnFirstUse``: a command that reads no list never imports
    this package)."""
    found = getattr(ledger, _ATTRIBUTE, None)
    pending = getattr(ledger.references, "attach", None)
    if found is None and callable(pending):
        pending()
        found = getattr(ledger, _ATTRIBUTE, None)
    return found


def queries_for(ledger: Ledger) -> Queries:
    """The ledger's queries; ConfigError on a store without SQL tables (``memory://``)."""
    from adapters.queries.lists import Queries

    found = _found(ledger)
    if not isinstance(found, Queries):
        raise ConfigError("lists and lookups need SQLite or PostgreSQL (read models)")
    return found


def every_customer(ledger: Ledger) -> list[Customer]:
    """Every customer, in registration order: from the directory read model on an SQL store
    (``Queries.every_customer``), folded from the log on ``memory://`` (no read models)."""
    from adapters.queries.lists import Queries

    found = _found(ledger)
    if not isinstance(found, Queries):
        from adapters.ledger.folds import LogFolds

        return LogFolds(ledger).customers()
    return found.every_customer()


def customer_currencies(ledger: Ledger) -> dict[str, str]:
    """Each customer's currency by account number, from the directory read model when it is
    current (folded otherwise)."""
    from adapters.queries.lists import Queries

    found = _found(ledger)
    rows = found.directory() if isinstance(found, Queries) else None
    if rows is None:
        from adapters.ledger.folds import LogFolds

        return {c.registered.account_number: c.currency for c in LogFolds(ledger).customers()}
    return {str(row["account_number"]): str(row["currency"]) for row in rows}


__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "InvalidPage",
    "InvoiceQuery",
    "Page",
    "Queries",
    "attach",
    "customer_currencies",
    "every_customer",
    "queries_for",
]
