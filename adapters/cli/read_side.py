"""The read models as CLI commands see them: opened on the ledger's database, caught up first.

Reading commands catch the read models up before they read, so what they print includes every
event committed before the command started, whether or not a follower is running.
"""

from __future__ import annotations

from collections.abc import Iterable

import click

from adapters.cli.context import state
from adapters.cli.rebuild_child import child_factory
from adapters.config import ConfigError, database_url
from adapters.store.read_models import SqlViewStore, open_store
from projections.runner import Fault, Runner


def read_models(catch_up: Iterable[str] | None = (), batch_size: int = 1000) -> Runner:
    """A runner over the CLI's ledger and database; catches up the named read models
    (all when empty, none when ``catch_up`` is None)."""
    current = state()
    ledger = current.ledger
    events_table = getattr(ledger.recorder, "events_table_name", None)
    try:
        if events_table is None:
            raise ValueError("this store keeps no SQL tables")
        store_url = current.database_url or database_url()
        store = open_store(store_url, events_table)
    except ValueError as error:
        raise ConfigError(f"read models need SQLite or PostgreSQL: {error}") from None
    child = child_factory(current.database_url, store_url, events_table)
    runner = Runner(ledger, store, batch_size=batch_size, child=child)
    if catch_up is not None:
        wanted = list(catch_up)
        runner.catch_up(wanted)
        warn_stopped(runner, wanted)
    return runner


def warn_stopped(runner: Runner, names: Iterable[str] = ()) -> None:
    """One line on stderr per read model (of ``names``, or all) stopped at an event: what the
    command shows from it ends just before that event."""
    wanted = set(names)
    for name, fault in sorted(runner.faults.items()):
        if not wanted or name in wanted:
            click.echo(f"warning: {stopped_text(fault)}", err=True)


def stopped_text(fault: Fault) -> str:
    return (
        f"read model {fault.name} is stopped at position {fault.position}: it cannot apply"
        f" event {fault.event_id} ({fault.event_type} of {fault.aggregate_id}):"
        f" {fault.error}; it shows the ledger up to position {fault.position}"
        " (`tollbook projections status`, `tollbook reconcile`)"
    )


def view_store(runner: Runner) -> SqlViewStore:
    store = runner.store
    assert isinstance(store, SqlViewStore)
    return store
