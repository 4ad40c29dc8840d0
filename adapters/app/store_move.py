"""Copying one ledger's store to another database while the source is read-only, with proof.

``move_store(source_url, target_url)``:

1. marks the source read-only (read_only.py): every write from then on is refused there
   with ``store_read_only``, none is lost silently;
2. writes a full backup piece of it into a temporary folder (adapters/backup: its chain is
   walked link by link as it is read; a broken chain refuses the copy);
3. restores the piece into the target, which must be empty (every step of ``tollbook
   restore``: checksums, chain continuity, one-transaction load, read models rebuilt,
   reconcile);
4. proves the copy identical: the same chain head at the same position, and the same count
   of events, read from both databases (``audit verify`` on each).

It leaves the source read-only: the caller switches its users to the target (a tenant
directory, a changed ``TOLLBOOK_DATABASE_URL``) and then retires the source. A copy that fails
takes the mark off again (unless the source was read-only before it began: a store retired
by an earlier move stays so), so the source goes on as before, and leaves a target that may need
emptying (the load is one transaction: it holds all of the store or nothing of it).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import structlog
from eventsourcing.persistence import PersistenceError

from adapters.audit import verify_store
from adapters.backup.load import table_with_rows
from adapters.backup.restore import Verdict, restore
from adapters.backup.write import take_backup
from adapters.config import ConfigError, build_ledger
from adapters.ledger.application import Ledger
from adapters.store.chain import GENESIS
from adapters.store.database import Database
from adapters.store.migrations.runner import migrate
from adapters.store.read_only import make_read_only, make_writable, read_only_reason
from adapters.store.settings import describe_url
from domain.errors import BillingError

log = structlog.get_logger("tollbook.store.move")

Progress = Callable[[str, int], None]


class MoveFailed(BillingError):
    """The copy could not be made or proved; the source is as it was before (writable, unless
    an earlier move had retired it)."""

    code = "move_failed"


@dataclass(frozen=True)
class ChainEnd:
    """Where a store's log ends: the last position, its chain link, and how many events."""

    position: int
    chain_head: str
    events: int


@dataclass(frozen=True)
class MoveReport:
    source: str  # URLs as fit for a log: no password
    target: str
    source_end: ChainEnd
    target_end: ChainEnd
    steps: list[dict[str, str]]
    seconds: float
    source_read_only: bool = True

    @property
    def identical(self) -> bool:
        return self.source_end == self.target_end

    def doc(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "target": self.target,
            "identical": self.identical,
            "position": self.target_end.position,
            "chain_head": self.target_end.chain_head,
            "events": self.target_end.events,
            "source_read_only": self.source_read_only,
            "seconds": round(self.seconds, 3),
            "steps": self.steps,
        }


def move_store(source_url: str, target_url: str, *, progress: Progress | None = None) -> MoveReport:
    """Copy the store at ``source_url`` into the empty store at ``target_url``, prove the
    copy identical, and leave the source read-only (see the module's text)."""
    started = time.monotonic()
    source_db, target_db = _database(source_url, "source"), _database(target_url, "target")
    if source_db.env == target_db.env:
        raise MoveFailed("the source and the target are the same store")
    shown_source, shown_target = describe_url(source_url), describe_url(target_url)
    _check_target(target_url, target_db, shown_target)  # before the source stops taking writes
    source = build_ledger(source_url)
    try:
        events_table = str(getattr(source.recorder, "events_table_name", ""))
        migrate(source_db)  # the tables a backup reads exist, at the current version
        # a store retired by an earlier move may be copied again: it stays read-only whatever
        # becomes of this copy
        marked_before = read_only_reason(source_db) is not None
        make_read_only(source_db, events_table, f"being moved to {shown_target}")
        log.info("store read-only for a move", source=shown_source, target=shown_target)
        try:
            verdict = _copy(source_db, events_table, target_url, target_db, progress)
            source_end = chain_end(source, source_db)
            target = build_ledger(target_url)
            try:
                target_end = chain_end(target, target_db)
            finally:
                target.close()
            if source_end != target_end:
                raise MoveFailed(
                    f"the copy differs from the source: the source ends at {source_end}, the"
                    f" copy at {target_end}"
                )
        except BaseException:
            if not marked_before:
                make_writable(source_db)
            log.error("store move failed", source=shown_source, source_read_only=marked_before)
            raise
    finally:
        source.close()
    report = MoveReport(
        shown_source,
        shown_target,
        source_end,
        target_end,
        [step.__dict__ for step in verdict.steps],
        time.monotonic() - started,
    )
    log.info(
        "store copied",
        source=shown_source,
        target=shown_target,
        position=target_end.position,
        chain_head=target_end.chain_head,
        events=target_end.events,
    )
    return report


def _check_target(url: str, db: Database, shown: str) -> None:
    """The target answers and holds nothing yet: else the move is refused while the source
    is still writable."""
    try:
        target = build_ledger(url)
        try:
            table = table_with_rows(db, str(getattr(target.recorder, "events_table_name", "")))
        finally:
            target.close()
    except (OSError, PersistenceError, psycopg.Error) as error:
        raise MoveFailed(f"the target {shown} cannot be reached: {error}") from None
    if table:
        raise MoveFailed(
            f"the target {shown} is not empty ({table} has rows): copy only into an empty"
            " store — a new SQLite file, or a new PostgreSQL database or schema"
        )


def _database(url: str, which: str) -> Database:
    try:
        return Database.from_url(url)
    except (ValueError, ConfigError) as error:
        raise MoveFailed(f"the {which} must be SQLite or PostgreSQL: {error}") from None


def _copy(
    source_db: Database,
    events_table: str,
    target_url: str,
    target_db: Database,
    progress: Progress | None,
) -> Verdict:
    with tempfile.TemporaryDirectory(prefix="tollbook-move-") as folder:
        piece = Path(folder) / "piece"
        take_backup(source_db, events_table, piece, progress=progress)
        opened: list[Ledger] = []

        def open_target() -> Ledger:
            opened.append(build_ledger(target_url))
            return opened[-1]

        try:
            verdict = restore(open_target, target_db, [piece], progress)
        finally:
            for ledger in opened:
                ledger.close()
    if not verdict.ok:
        failed = next(step for step in verdict.steps if step.status == "failed")
        raise MoveFailed(f"the copy failed at step {failed.name!r}: {failed.detail}")
    return verdict


def chain_end(ledger: Ledger, db: Database) -> ChainEnd:
    """Where the store's log ends, proved by walking its chain (``audit verify``)."""
    findings, last = verify_store(ledger, db)
    if findings:
        raise MoveFailed(
            f"the chain has {len(findings)} finding(s), first at position"
            f" {findings[0].position}: {findings[0].problem} (`tollbook audit verify`)"
        )
    table = str(getattr(ledger.recorder, "events_table_name", ""))
    with db.connect(write=False) as conn:
        (count,) = conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()
    position, head = (last.position, last.hash) if last else (0, GENESIS)
    return ChainEnd(position, head, int(count))
