"""The read models as CLI commands see them: opened on the ledger's database, caught up first.

Reading commands catch the read models up before they read, so what they print includes every
event committed before the command started, whether or not a follower is running.
"""

from __future__ import annotations

from collections.abc import Iterable

from adapters.cli.context import state
from adapters.config import ConfigError, database_url
from adapters.store.read_models import SqlViewStore, open_store
from projections.runner import Runner


def read_models(catch_up: Iterable[str] | None = (), batch_size: int = 1000) -> Runner:
    """A runner over the CLI's ledger and database; catches up the named read models
    (all when empty, none when ``catch_up`` is None)."""
    current = state()
    ledger = current.ledger
    events_table = getattr(ledger.recorder, "events_table_name", None)
    try:
        if events_table is None:
            raise ValueError("this store keeps no SQL tables")
        store = open_store(current.database_url or database_url(), events_table)
    except ValueError as error:
        raise ConfigError(f"read models need SQLite or PostgreSQL: {error}") from None
    runner = Runner(ledger, store, batch_size=batch_size)
    if catch_up is not None:
        runner.catch_up(list(catch_up))
    return runner


def view_store(runner: Runner) -> SqlViewStore:
    store = runner.store
    assert isinstance(store, SqlViewStore)
    return store
