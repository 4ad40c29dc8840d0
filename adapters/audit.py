"""Audit over the raw store: walk the hash chain, and export a period of the log as JSON Lines.

Both read the stored records themselves (not the read models), in log order.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import IO, Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from adapters.ledger.application import Ledger
from adapters.ledger.event_mapper import event_payload
from adapters.store.chain import Finding, Link, Record, chain_table, is_hash, verify
from adapters.store.database import Database
from domain.aggregate import Event

PAGE = 1000


def stored_records(db: Database, events_table: str) -> Iterator[Record]:
    """Every stored event record, in position order, exactly as stored: read with plain SQL,
    not through the event store's recorder, so a row it could not decode is still named."""
    position = "rowid" if db.dialect == "sqlite" else "notification_id"
    for row in _pages(
        db,
        f"SELECT {position}, originator_id, originator_version, topic, state FROM {events_table}"
        f" WHERE {position} > ? ORDER BY {position} LIMIT ?",
    ):
        yield _record(row)


def chain_links(db: Database, events_table: str) -> Iterator[Link]:
    for row in _pages(
        db,
        "SELECT position, originator_id, originator_version, prev_position, hash"
        f" FROM {chain_table(events_table)} WHERE position > ? ORDER BY position LIMIT ?",
    ):
        yield _link(row)


def _pages(db: Database, query: str) -> Iterator[Sequence[Any]]:
    """Rows of ``query`` (``WHERE position > ? ... LIMIT ?``), a page per transaction."""
    start = -1
    while True:
        with db.connect(write=False) as conn:
            rows = conn.execute(db.sql(query), (start, PAGE)).fetchall()
        yield from rows
        if len(rows) < PAGE:
            return
        start = int(rows[-1][0])


def _record(row: Sequence[Any]) -> Record:
    position, originator_id, version, topic, state = row
    problems = [
        _uuid_problem("aggregate id", originator_id),
        _int_problem("version", version),
        "" if isinstance(topic, str) and topic else f"topic is {_shown(topic)}",
        "" if isinstance(state, (bytes, memoryview, str)) else f"state is {_shown(state)}",
    ]
    malformed = "; ".join(p for p in problems if p)
    return Record(
        int(position),
        str(originator_id),
        version if isinstance(version, int) else None,
        str(topic),
        b"" if malformed else (state.encode() if isinstance(state, str) else bytes(state)),
        malformed,
    )


def _link(row: Sequence[Any]) -> Link:
    position, originator_id, version, prev_position, link_hash = row
    problems = [
        _uuid_problem("aggregate id", originator_id),
        _int_problem("version", version),
        _int_problem("previous position", prev_position),
        "" if is_hash(link_hash) else f"hash is not 64 hex digits: {_shown(link_hash)}",
    ]
    return Link(
        int(position),
        str(originator_id),
        version if isinstance(version, int) else None,
        prev_position if isinstance(prev_position, int) else None,
        str(link_hash),
        "; ".join(p for p in problems if p),
    )


def _uuid_problem(what: str, value: object) -> str:
    if isinstance(value, UUID):
        return ""
    try:
        UUID(str(value))
    except ValueError:
        return f"{what} is not a UUID: {_shown(value)}"
    return "" if isinstance(value, str) else f"{what} is not text: {_shown(value)}"


def _int_problem(what: str, value: object) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return ""
    return f"{what} is not a whole number: {_shown(value)}"


def _shown(value: object) -> str:
    """A stored value as a finding quotes it: its repr, cut short (a row may be huge)."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def verify_store(ledger: Ledger, db: Database) -> tuple[list[Finding], Link | None]:
    """Findings for every record altered, removed, inserted or malformed behind the
    application's back."""
    events_table = str(getattr(ledger.recorder, "events_table_name", ""))
    return verify(stored_records(db, events_table), chain_links(db, events_table))


def export_events(
    ledger: Ledger,
    db: Database,
    out: IO[str],
    start: datetime | None = None,
    end: datetime | None = None,
) -> int:
    """Write every event recorded in [start, end) as one JSON object per line; returns count.

    Walks the stored rows and the chain together (memory stays flat however long the log). A
    row that cannot be read as an event is written too, flagged ``malformed`` (its time is
    unknown, so it is in every period): an auditor sees it rather than an export that stops.
    """
    events_table = str(getattr(ledger.recorder, "events_table_name", ""))
    links = chain_links(db, events_table)
    chain = next(links, None)
    count = 0
    for record in stored_records(db, events_table):
        while chain is not None and chain.position < record.position:
            chain = next(links, None)
        chain_hash = chain.hash if chain is not None and chain.position == record.position else None
        event, problem = _decoded(ledger, record)
        if event is None:
            line = malformed_line(record, problem, chain_hash)
        elif (start and event.timestamp < start) or (end and event.timestamp >= end):
            continue
        else:
            line = export_line(record.position, event, chain_hash)
        out.write(json.dumps(line, sort_keys=True))
        out.write("\n")
        count += 1
    return count


def _decoded(ledger: Ledger, record: Record) -> tuple[Event | None, str]:
    """The record as the ledger reads it, or why it cannot be read."""
    if record.malformed:
        return None, record.malformed
    try:
        event = ledger.mapper.to_domain_event(
            StoredEvent(
                originator_id=UUID(record.originator_id),
                originator_version=int(record.version or 0),
                topic=record.topic,
                state=record.state,
            )
        )
    except Exception as error:  # whatever the bytes are: a truncated payload, an unknown topic
        return None, f"cannot be read as an event: {type(error).__name__}: {_cut(str(error))}"
    if not isinstance(event, Event):
        return None, f"not a tollbook event: {type(event).__name__}"
    return event, ""


def malformed_line(record: Record, problem: str, chain_hash: str | None) -> dict[str, Any]:
    return {
        "position": record.position,
        "aggregate_id": record.originator_id,
        "version": record.version,
        "type": record.topic,
        "malformed": problem,
        "chain_hash": chain_hash,
    }


def _cut(text: str) -> str:
    return text if len(text) <= 200 else text[:197] + "..."


def export_line(position: int, event: Event, chain_hash: str | None) -> dict[str, Any]:
    payload = event_payload(event)
    kind = type(event).__qualname__
    return {
        "position": position,
        "aggregate_id": str(event.originator_id),
        "aggregate_type": kind.split(".")[0],
        "version": event.originator_version,
        "type": kind,
        "time": payload.pop("timestamp"),
        "actor": payload.pop("actor"),
        "reason": payload.pop("reason"),
        "payload": payload,
        "chain_hash": chain_hash,
    }
