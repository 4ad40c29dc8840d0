"""``tollbook migrate [--status]``: bring tollbook's own tables up to date, or say how far
they are (docs/operations.md). Every command that uses a table applies pending steps itself;
this is for doing it ahead of a deployment, and for looking."""

from __future__ import annotations

from typing import Any

import click

from adapters.cli.context import emit_json, json_option, say, state, table
from adapters.config import ConfigError, database_url
from adapters.store.database import Database
from adapters.store.migrations.runner import Status, migrate, status


def _database() -> Database:
    try:
        return Database.from_url(state().database_url or database_url())
    except ValueError as error:  # memory:// has no SQL tables
        raise ConfigError(str(error)) from None


@click.command("migrate")
@click.option("--status", "only_status", is_flag=True, help="Show applied and pending steps.")
@json_option
def migrate_command(only_status: bool, as_json: bool) -> None:
    """Apply the pending schema migration steps (each once, in its own transaction)."""
    db = _database()
    ran: list[int] = []
    if not only_status:
        state().ledger  # noqa: B018  (creates the schema and the event store's tables first)
        ran = [step.version for step in migrate(db)]
    found = status(db)
    if as_json:
        emit_json(_status_doc(found) | ({} if only_status else {"applied_now": ran}))
        return
    rows = [(a.version, a.name, "applied", a.applied_at) for a in found.applied]
    rows += [(m.version, m.name, "pending", "") for m in found.pending]
    table("Schema migrations", ["version", "name", "state", "applied at"], rows)
    if not only_status:
        say(f"applied {len(ran)} step(s)" if ran else "nothing to apply: up to date")


def _status_doc(found: Status) -> dict[str, Any]:
    return {
        "applied": [
            {"version": a.version, "name": a.name, "applied_at": a.applied_at}
            for a in found.applied
        ],
        "pending": [{"version": m.version, "name": m.name} for m in found.pending],
    }
