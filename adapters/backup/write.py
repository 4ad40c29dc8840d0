"""``tollbook backup``: write a consistent piece (full, or the events after a base) to a folder.

The piece is written into a hidden folder beside the target and renamed into place when every
file and the manifest are on disk, so a backup that fails half-way leaves nothing that looks
like a backup. While copying, the events are checked against their chain links: a store whose
chain is broken is refused (``tollbook audit verify`` names the records), because a restore
of it could never prove itself.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from uuid import UUID, uuid4

import structlog

from adapters.backup.lines import (
    EVENTS_FILE,
    MANIFEST_FILE,
    USAGE_FILE,
    ChainWalk,
    EventLine,
    encode_row,
    table_file,
    table_header,
)
from adapters.backup.manifest import FORMAT, Base, FileEntry, Manifest, Usage
from adapters.backup.snapshot import Snapshot, snapshot
from adapters.backup.tables import (
    USAGE_TABLE,
    carried,
    column_names,
    schema_version,
    table_names,
)
from adapters.store.chain import GENESIS, audit_key, chain_table
from adapters.store.database import Database
from adapters.store.read_models import TRACKING_TABLE
from domain.errors import BillingError

log = structlog.get_logger("tollbook.backup")

#: (what, how many so far): called every PROGRESS_EVERY rows and at the end of each file
Progress = Callable[[str, int], None]
PROGRESS_EVERY = 10_000


class BackupRefused(BillingError):
    """A backup that cannot be made as asked (the folder is taken, the base is of another
    ledger, the store's chain is broken); nothing was written."""

    code = "backup_refused"


def tollbook_version() -> str:
    try:
        return version("tollbook")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown"


def take_backup(
    db: Database,
    events_table: str,
    output: Path,
    since: Manifest | None = None,
    progress: Progress | None = None,
) -> Manifest:
    """Write a piece of the store at ``db`` to the folder ``output`` (which must not exist, or
    be empty): all of it, or with ``since`` what came after that piece. Returns its manifest."""
    if output.exists() and (not output.is_dir() or any(output.iterdir())):
        raise BackupRefused(f"{output} exists and is not an empty folder: choose a new one")
    output.parent.mkdir(parents=True, exist_ok=True)
    work = output.parent / f".{output.name}.partial-{uuid4().hex[:8]}"
    work.mkdir(mode=0o700)  # a piece holds webhook secrets and password hashes: owner only
    try:
        with snapshot(db, work) as snap:
            manifest = _write_piece(snap, events_table, work, since, progress or _quiet)
        _write_durably(work / MANIFEST_FILE, manifest.dumps().encode())
        if output.exists():
            output.rmdir()
        work.rename(output)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    log.info(
        "backup written",
        folder=str(output),
        kind=manifest.kind,
        last_position=manifest.last_position,
        chain_head=manifest.chain_head,
        events=manifest.events,
    )
    return manifest


def _quiet(what: str, count: int) -> None:
    del what, count


def _write_piece(
    snap: Snapshot, events_table: str, work: Path, since: Manifest | None, progress: Progress
) -> Manifest:
    key = audit_key()
    if since is not None:
        _check_base(snap, events_table, since, key is not None)
    # an increment continues the chain from where its base ended
    position, head = (since.last_position, since.chain_head) if since else (0, GENESIS)
    walk = ChainWalk(position, head, key)
    counts: Counter[str] = Counter()
    events = _event_lines(snap, events_table, walk, counts)
    files = [_write_file(work, EVENTS_FILE, events, _counter(progress, "events copied", 0))]
    usage_from = since.usage.batch if since else 0
    usage = _usage_lines(snap, usage_from)
    files.append(_write_file(work, USAGE_FILE, usage, _counter(progress, "CDRs copied", 1)))
    tables = [t for t in table_names(snap.conn, snap.dialect) if carried(t, events_table)]
    files += [
        _write_file(work, table_file(t), _table_lines(snap, t), _counter(progress, f"{t} rows", 1))
        for t in tables
    ]
    _check_tail(snap, walk.position)
    rows, charges = snap.one(f"SELECT COUNT(*), COALESCE(SUM(charge_micros), 0) FROM {USAGE_TABLE}")
    (batch,) = snap.one("SELECT COALESCE(MAX(batch), 0) FROM usage_imports")
    base = None
    if since is not None:
        base = Base(
            position=since.last_position, chain_head=since.chain_head, usage_batch=usage_from
        )
    return Manifest(
        format=FORMAT,
        kind="full" if since is None else "incremental",
        store=snap.dialect,
        created_at=datetime.now(UTC),
        tollbook_version=tollbook_version(),
        schema_version=schema_version(snap.conn),
        keyed=key is not None,
        base=base,
        last_position=walk.position,
        chain_head=walk.head,
        events=sum(counts.values()),
        event_counts=dict(sorted(counts.items())),
        usage=Usage(batch=int(batch), rows=int(rows), charge_micros=int(charges)),
        tables=tables,
        files=files,
    ).signed(key)


def _check_base(snap: Snapshot, events_table: str, since: Manifest, keyed: bool) -> None:
    """The base must be a piece of this very log: its chain head is this store's link at its
    position (else it is another ledger's, or this one's history was rewritten since)."""
    if since.keyed != keyed:
        raise BackupRefused(
            f"the base piece's chain was made with TOLLBOOK_AUDIT_KEY {_set(since.keyed)}, and"
            f" it is {_set(keyed)} here: back up with the key the ledger is written with"
        )
    key = audit_key()
    if key is not None and since.signature != since.signature_with(key):
        raise BackupRefused(
            "the base piece's manifest signature does not match: it was altered, or was"
            " written with another TOLLBOOK_AUDIT_KEY"
        )
    if since.last_position == 0:
        return
    found = list(
        snap.rows(
            f"SELECT hash FROM {chain_table(events_table)} WHERE position = ?",
            (since.last_position,),
        )
    )
    if not found or found[0][0] != since.chain_head:
        stored = found[0][0] if found else "no link"
        raise BackupRefused(
            f"the base piece does not belong to this ledger: it ends at position"
            f" {since.last_position} with chain head {since.chain_head[:16]}…, this store has"
            f" {stored if not found else stored[:16] + '…'} there (a backup of another store,"
            " or this store's history was rewritten: `tollbook audit verify`)"
        )


def _check_tail(snap: Snapshot, head: int) -> None:
    """The read models never saw past the log's end: if they did, its tail was cut off (with
    its chain rows, which the walk cannot see), as ``tollbook audit verify`` reports."""
    if TRACKING_TABLE not in table_names(snap.conn, snap.dialect):
        return
    (seen,) = snap.one(f"SELECT COALESCE(MAX(position), 0) FROM {TRACKING_TABLE}")
    if int(seen) > head:
        raise BackupRefused(
            f"the log ends at position {head} but the read models saw position {seen}: its"
            " tail was removed (`tollbook audit verify`); nothing was written"
        )


def _set(keyed: bool) -> str:
    return "set" if keyed else "unset"


def _event_lines(
    snap: Snapshot, events_table: str, walk: ChainWalk, counts: Counter[str]
) -> Iterator[str]:
    position = "rowid" if snap.dialect == "sqlite" else "notification_id"
    query = (
        f"SELECT e.{position}, e.originator_id, e.originator_version, e.topic, e.state,"
        " c.position, c.prev_position, c.hash"
        f" FROM {events_table} e LEFT JOIN {chain_table(events_table)} c"
        f" ON c.position = e.{position} WHERE e.{position} > ? ORDER BY e.{position}"
    )
    for at, aggregate, version_, topic, state, linked, prev, link_hash in snap.rows(
        query, (walk.position,)
    ):
        if linked is None:
            raise BackupRefused(
                f"the event at position {at} has no chain link: the store's chain is broken"
                " (`tollbook audit verify` names every such record); nothing was written"
            )
        line = EventLine(
            int(at),
            str(aggregate if isinstance(aggregate, UUID) else UUID(str(aggregate))),
            int(version_),
            str(topic),
            state.encode() if isinstance(state, str) else bytes(state),
            int(prev),
            str(link_hash),
        )
        problem = walk.follow(line)
        if problem:
            raise BackupRefused(
                f"the store's hash chain is broken: {problem} (`tollbook audit verify`);"
                " nothing was written"
            )
        counts[line.event_type] += 1
        yield line.dumps()


def _usage_lines(snap: Snapshot, after_batch: int) -> Iterator[str]:
    """The CDRs of the import batches after ``after_batch`` (all of them for a full piece)."""
    columns = column_names(snap.conn, snap.dialect, USAGE_TABLE)
    yield table_header(USAGE_TABLE, columns)
    for row in snap.rows(
        f"SELECT {', '.join(columns)} FROM {USAGE_TABLE} WHERE batch > ? ORDER BY batch, call_id",
        (after_batch,),
    ):
        yield encode_row(row)


def _table_lines(snap: Snapshot, table: str) -> Iterator[str]:
    columns = column_names(snap.conn, snap.dialect, table)
    yield table_header(table, columns)
    for row in snap.rows(f"SELECT {', '.join(columns)} FROM {table} ORDER BY 1"):
        yield encode_row(row)


def _counter(progress: Progress, what: str, header_lines: int) -> Callable[[int], None]:
    """Progress of one file, counted in rows (its header line left out)."""
    return lambda lines: progress(what, max(0, lines - header_lines))


def _write_file(
    folder: Path, name: str, lines: Iterable[str], progress: Callable[[int], None]
) -> FileEntry:
    digest = hashlib.sha256()
    count = size = 0
    with (folder / name).open("wb") as out:
        for line in lines:
            data = line.encode() + b"\n"
            out.write(data)
            digest.update(data)
            count += 1
            size += len(data)
            if count % PROGRESS_EVERY == 0:
                progress(count)
        out.flush()
        os.fsync(out.fileno())
    progress(count)
    return FileEntry(name=name, sha256=digest.hexdigest(), bytes=size, lines=count)


def _write_durably(path: Path, data: bytes) -> None:
    with path.open("wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
