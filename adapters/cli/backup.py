"""``tollbook backup`` and ``tollbook restore``: pieces that prove themselves, and a restore
that ends with one verdict (docs/operations.md, "Backups and restores")."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from adapters.cli.context import emit_json, json_option, say, state, table
from adapters.config import ConfigError, database_url
from adapters.store.database import Database
from domain.errors import InvalidInput

if TYPE_CHECKING:
    from adapters.backup.manifest import Manifest


class RestoreFailed(click.ClickException):
    """A step of the restore failed: exit 1 after the table of steps."""

    exit_code = 1
    code = "restore_failed"


def _database() -> Database:
    try:
        return Database.from_url(state().database_url or database_url())
    except ValueError as error:  # memory:// keeps nothing to back up or restore into
        raise ConfigError(f"backups need SQLite or PostgreSQL: {error}") from None


class _Progress:
    """Progress lines on stderr (standard output stays the result): a new stage at once,
    then at most one line a second."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.what = ""
        self.at = 0.0

    def __call__(self, what: str, count: int) -> None:
        now = time.monotonic()
        if self.quiet or (what == self.what and now - self.at < 1.0):
            return
        self.what, self.at = what, now
        click.echo(f"{what}: {count:,}", err=True)


def _base(since: Path) -> Manifest:
    from adapters.backup.manifest import ManifestInvalid, read_manifest

    try:
        return read_manifest(since)
    except ManifestInvalid as error:
        raise InvalidInput(f"--since {since}: {error}", field="since") from None


@click.command("backup")
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="The folder to write (new, or empty).",
)
@click.option(
    "--since",
    type=click.Path(path_type=Path, exists=True),
    help="An earlier piece (its folder or manifest.json): write only what came after it.",
)
@click.option("--quiet", is_flag=True, help="No progress lines on stderr.")
@json_option
def backup(output: Path, since: Path | None, quiet: bool, as_json: bool) -> None:
    """Write a consistent backup of the store to a folder, with a manifest: last position,
    hash-chain head, events per type, sha256 of each file. --since writes an increment."""
    from adapters.backup.write import take_backup
    from adapters.store.migrations.runner import migrate

    base = _base(since) if since is not None else None  # before the store is opened
    db, events_table = _database(), str(getattr(state().ledger.recorder, "events_table_name", ""))
    migrate(db)  # the tables a backup reads exist, at the current version
    manifest = take_backup(db, events_table, output, base, _Progress(quiet))
    if as_json:
        emit_json({"folder": str(output), **manifest.model_dump(mode="json")})
        return
    say(
        f"wrote {manifest.kind} backup {output}: {manifest.events} events to position"
        f" {manifest.last_position}, chain head {manifest.chain_head}"
    )


@click.command("restore")
@click.argument("pieces", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--verify-only",
    is_flag=True,
    help="Prove the pieces (manifests, checksums, chain, usage) and open no database.",
)
@click.option("--quiet", is_flag=True, help="No progress lines on stderr.")
@json_option
def restore(pieces: tuple[Path, ...], verify_only: bool, quiet: bool, as_json: bool) -> None:
    """Restore a full backup and its increments (in order) into an EMPTY database; verify
    checksums and the chain across pieces, rebuild the read models, reconcile; one verdict."""
    from adapters.backup.restore import restore as run_restore

    target = None if verify_only else _database()
    verdict = run_restore(lambda: state().ledger, target, pieces, _Progress(quiet))
    if as_json:
        emit_json(verdict.doc())
    else:
        table(
            f"Restore: {'OK' if verdict.ok else 'FAILED'}",
            ["step", "result", "detail"],
            [[s.name, s.status, s.detail] for s in verdict.steps],
        )
    if not verdict.ok:
        failed = verdict.doc()["failed_step"]
        raise RestoreFailed(f"restore FAILED at step {failed!r}: see the table of steps")
    if not as_json:
        done = "pieces verified" if verify_only else "restore"
        say(f"{done} OK: position {verdict.position}, chain head {verdict.chain_head}")
