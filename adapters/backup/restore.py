"""``tollbook restore``: rebuild a store from a full backup and its increments, and prove it.

The steps, in order; the first that fails stops the restore (the later ones are "not run"):

1. manifests   — every piece's manifest reads, in order: the full piece, then increments
2. checksums   — every file has the size and sha256 its manifest says
3. chain       — each piece starts exactly where the previous one ended, and its events
                 continue the hash chain link by link to its manifest's head
4. usage       — the pieces' CDRs count and sum to what the store held at the last piece
5. target      — the target database holds no events and no rows of the carried tables
6. load        — one transaction: events and chain links at their positions, CDRs (checked
                 again in the database before the commit), tables
7. chain head  — the restored store's own chain (``audit verify``) ends at the last head
8. read models — rebuilt from event zero
9. reconcile   — every read model agrees with a fold of the events

Steps 1-4 touch no database: a tampered or missing piece is refused before anything is
written.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import structlog

from adapters.audit import verify_store
from adapters.backup.load import Loader, table_with_rows
from adapters.backup.pieces import (
    Piece,
    StepFailed,
    read_pieces,
    verify_chain,
    verify_checksums,
    verify_usage,
)
from adapters.ledger.application import Ledger
from adapters.reconcile import reconcile
from adapters.store.chain import GENESIS
from adapters.store.database import Database
from adapters.store.migrations.runner import migrate, migrations
from adapters.store.read_models import SqlViewStore
from projections.runner import Runner

log = structlog.get_logger("tollbook.restore")
Progress = Callable[[str, int], None]


@dataclass(frozen=True)
class Step:
    name: str
    status: str  # ok | failed | not run
    detail: str = ""


@dataclass
class Verdict:
    steps: list[Step] = field(default_factory=list)
    position: int = 0
    chain_head: str = GENESIS

    @property
    def ok(self) -> bool:
        return all(step.status == "ok" for step in self.steps)

    def doc(self) -> dict[str, Any]:
        failed = next((s.name for s in self.steps if s.status == "failed"), None)
        return {
            "verdict": "OK" if self.ok else "FAILED",
            "failed_step": failed,
            "position": self.position if self.ok else None,
            "chain_head": self.chain_head if self.ok else None,
            "steps": [s.__dict__ for s in self.steps],
        }


def restore(
    open_ledger: Callable[[], Ledger],
    db: Database | None,
    paths: Sequence[Path],
    progress: Progress | None = None,
) -> Verdict:
    """Restore the pieces at ``paths`` (full first, then increments in order) into the empty
    store at ``db``, whose ledger ``open_ledger`` opens — only once the pieces have proved
    themselves, so pieces refused leave the target untouched. The verdict names each step's
    outcome. Without ``db``, only the pieces are proved (the steps before ``target``)."""
    job = _Restore(open_ledger, db, list(paths), progress or (lambda what, count: None))
    return job.run()


class _Restore:
    def __init__(
        self,
        open_ledger: Callable[[], Ledger],
        target: Database | None,
        paths: list[Path],
        progress: Progress,
    ):
        self.open_ledger = open_ledger
        self.target = target
        self.paths = paths
        self.progress = progress
        self.pieces: list[Piece] = []

    @property
    def db(self) -> Database:
        assert self.target is not None  # the steps that write run only with a target
        return self.target

    @cached_property
    def ledger(self) -> Ledger:
        return self.open_ledger()  # makes the event store's tables in the target

    @property
    def events_table(self) -> str:
        return str(getattr(self.ledger.recorder, "events_table_name", ""))

    @cached_property
    def views(self) -> SqlViewStore:
        return SqlViewStore(self.db, self.events_table)

    def run(self) -> Verdict:
        steps: list[tuple[str, Callable[[], str]]] = [
            ("manifests", self.manifests),
            ("checksums", lambda: verify_checksums(self.pieces)),
            ("chain", lambda: verify_chain(self.pieces, self.progress)),
            ("usage", lambda: verify_usage(self.pieces)),
            ("target", self.target_empty),
            ("load", self.load),
            ("chain head", self.chain_head),
            ("read models", self.read_models),
            ("reconcile", self.reconcile),
        ]
        if self.target is None:  # proving the pieces only: nothing is opened
            steps = steps[: [name for name, _ in steps].index("target")]
        verdict = Verdict()
        for index, (name, work) in enumerate(steps):
            try:
                detail = work()
            except StepFailed as failure:
                verdict.steps.append(Step(name, "failed", str(failure)))
                verdict.steps += [Step(later, "not run") for later, _ in steps[index + 1 :]]
                log.error("restore failed", step=name, reason=str(failure))
                return verdict
            verdict.steps.append(Step(name, "ok", detail))
            log.info("restore step passed", step=name, detail=detail)
        last = self.pieces[-1].manifest
        verdict.position, verdict.chain_head = last.last_position, last.chain_head
        return verdict

    def manifests(self) -> str:
        self.pieces = read_pieces(self.paths, len(migrations()))
        last = self.pieces[-1].manifest
        return (
            f"a full backup and {len(self.pieces) - 1} increment(s), to position"
            f" {last.last_position} ({sum(p.manifest.events for p in self.pieces)} events)"
        )

    def target_empty(self) -> str:
        table = table_with_rows(self.db, self.events_table)
        if table:
            raise StepFailed(
                f"the target database is not empty ({table} has rows): restore only into an"
                " empty database — a new SQLite file, or a new PostgreSQL database or schema"
            )
        return "the target database holds no events and no rows"

    def load(self) -> str:
        version = self.pieces[-1].manifest.schema_version
        migrate(self.db, migrations()[:version])  # the shape the pieces' rows have
        try:
            with self.db.connect() as conn:
                detail = Loader(self.db, conn, self.events_table, self.progress).load(self.pieces)
        except StepFailed:
            raise
        except Exception as error:  # a row the database refuses: the transaction rolled back
            raise StepFailed(f"the database refused a row; nothing was loaded: {error}") from None
        ran = migrate(self.db)
        return detail + (f"; then migration step(s) {[m.version for m in ran]}" if ran else "")

    def chain_head(self) -> str:
        findings, last = verify_store(self.ledger, self.db)
        if findings:
            first = findings[0]
            raise StepFailed(
                f"the restored chain has {len(findings)} finding(s), first at position"
                f" {first.position}: {first.problem}"
            )
        head = (last.position, last.hash) if last else (0, GENESIS)
        manifest = self.pieces[-1].manifest
        if head != (manifest.last_position, manifest.chain_head):
            raise StepFailed(
                f"the restored chain ends at position {head[0]} ({head[1][:16]}…), the last"
                f" manifest at {manifest.last_position} ({manifest.chain_head[:16]}…)"
            )
        return f"audit verify: intact to position {head[0]}, head {head[1]} as the manifest says"

    def read_models(self) -> str:
        runner = Runner(self.ledger, self.views)
        applied = runner.rebuild(None, lambda reached, head: self.progress("read models", reached))
        if runner.faults:
            name, fault = sorted(runner.faults.items())[0]
            raise StepFailed(f"read model {name} stopped at event {fault.event_id}: {fault.error}")
        return f"{len(runner.projections)} read models rebuilt from {applied} events"

    def reconcile(self) -> str:
        differences = reconcile(self.ledger, self.views)
        if differences:
            first = differences[0]
            raise StepFailed(
                f"{len(differences)} difference(s) between the events and the read models;"
                f" first: {first.check} {first.subject} {first.field}: events say"
                f" {first.expected}, read model has {first.found}"
            )
        return "every read model agrees with the events"
