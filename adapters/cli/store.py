"""``tollbook store``: copy the store to another database (another PostgreSQL node, or from
SQLite to PostgreSQL) with proof, and the read-only mark a copy leaves on the source
(docs/scaling.md, "Moving a store")."""

from __future__ import annotations

import click

from adapters.cli.backup import _database, _Progress
from adapters.cli.context import emit_json, json_option, say, state, table
from adapters.config import database_url


@click.group("store")
def store() -> None:
    """The store itself: copy it to another database with proof, read-only marks."""


@store.command("copy")
@click.option(
    "--to",
    "target_url",
    required=True,
    help="URL of the EMPTY store to copy into (e.g. postgresql://host:5432/db?schema=s).",
)
@click.option("--quiet", is_flag=True, help="No progress lines on stderr.")
@json_option
def copy(target_url: str, quiet: bool, as_json: bool) -> None:
    """Copy this store into an empty one and prove the copy identical (same chain head, same
    event count). The source is read-only from the start and STAYS read-only: point
    TOLLBOOK_DATABASE_URL at the copy, then retire the source. A failed copy leaves the
    source writable."""
    from adapters.app.store_move import move_store

    source_url = state().database_url or database_url()
    report = move_store(source_url, target_url, progress=_Progress(quiet))
    if as_json:
        emit_json(report.doc())
        return
    table(
        "Store copy: identical",
        ["step", "result", "detail"],
        [[s["name"], s["status"], s["detail"]] for s in report.steps],
    )
    say(
        f"copied {report.target_end.events} events to {report.target}: position"
        f" {report.target_end.position}, chain head {report.target_end.chain_head} on both."
        f" {report.source} is read-only: switch to the copy, then retire it"
    )


@store.command("status")
@json_option
def status(as_json: bool) -> None:
    """Whether the store is writable, or read-only and why."""
    from adapters.store.read_only import read_only_reason

    reason = read_only_reason(_database())
    if as_json:
        emit_json({"read_only": reason is not None, "reason": reason})
        return
    say(f"read-only ({reason})" if reason else "writable")


@store.command("writable")
@json_option
def writable(as_json: bool) -> None:
    """Take the read-only mark off (a copy abandoned before anyone switched to it). Never
    after the switch: two writable copies of one ledger would part ways."""
    from adapters.store.read_only import make_writable

    changed = make_writable(_database())
    if as_json:
        emit_json({"read_only": False, "changed": changed})
        return
    say("writable again" if changed else "the store was writable already")
