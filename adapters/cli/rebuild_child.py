"""What a rebuild's child process runs first: a runner over the parent's stores.

Handed to ``Runner(child=...)`` as ``functools.partial(child_runner, ...)`` (picklable for a
'spawn' child, which starts with nothing of the parent's but its environment)."""

from __future__ import annotations

import functools
from collections.abc import Callable

from projections.runner import Runner


def child_runner(ledger_url: str | None, store_url: str, events_table: str) -> Runner:
    """The ledger as the parent built it (``ledger_url`` None: from the same environment, as
    the parent did) and the read-model store of the same database and event table (the
    tenant's when the parent acted on one: its URL is passed resolved)."""
    from adapters.config import build_ledger
    from adapters.logging import configure_logging
    from adapters.store.read_models import open_store

    configure_logging()  # from the environment, on stderr: stdout may carry the parent's JSON
    return Runner(build_ledger(ledger_url), open_store(store_url, events_table))


def child_factory(
    ledger_url: str | None, store_url: str, events_table: str
) -> Callable[[], Runner] | None:
    """None for an in-memory SQLite database, which another process cannot open."""
    if ":memory:" in store_url or "mode=memory" in store_url:
        return None
    return functools.partial(child_runner, ledger_url, store_url, events_table)
