"""Audit over the raw store: walk the hash chain, and export a period of the log as JSON Lines.

Both read the stored records themselves (not the read models), in log order.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import IO, Any

from adapters.store.chain import Finding, Link, Record, chain_table, verify
from adapters.store.database import Database
from domain.aggregate import Event
from domain.application import Ledger
from domain.event_mapper import event_payload

PAGE = 1000


def stored_records(ledger: Ledger) -> Iterator[Record]:
    """Every stored event record, in position order, exactly as stored."""
    start = 0
    while True:
        page = ledger.recorder.select_notifications(start, PAGE, inclusive_of_start=False)
        for n in page:
            yield Record(n.id, str(n.originator_id), n.originator_version, n.topic, n.state)
        if len(page) < PAGE:
            return
        start = page[-1].id


def chain_links(db: Database, events_table: str) -> Iterator[Link]:
    table = chain_table(events_table)
    start = -1
    while True:
        with db.connect() as conn:
            rows = conn.execute(
                db.sql(
                    "SELECT position, originator_id, originator_version, prev_position, hash"
                    f" FROM {table} WHERE position > ? ORDER BY position LIMIT ?"
                ),
                (start, PAGE),
            ).fetchall()
        for row in rows:
            yield Link(int(row[0]), str(row[1]), int(row[2]), int(row[3]), str(row[4]))
        if len(rows) < PAGE:
            return
        start = int(rows[-1][0])


def verify_store(ledger: Ledger, db: Database) -> tuple[list[Finding], Link | None]:
    """Findings for every record altered, removed or inserted behind the application's back."""
    events_table = str(getattr(ledger.recorder, "events_table_name", ""))
    return verify(stored_records(ledger), chain_links(db, events_table))


def export_events(
    ledger: Ledger,
    db: Database | None,
    out: IO[str],
    start: datetime | None = None,
    end: datetime | None = None,
) -> int:
    """Write every event recorded in [start, end) as one JSON object per line; returns count."""
    hashes = _hashes(ledger, db)
    count = 0
    for position, event in ledger.all_events():
        if (start and event.timestamp < start) or (end and event.timestamp >= end):
            continue
        out.write(json.dumps(export_line(position, event, hashes.get(position)), sort_keys=True))
        out.write("\n")
        count += 1
    return count


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


def _hashes(ledger: Ledger, db: Database | None) -> dict[int, str]:
    if db is None:
        return {}
    events_table = str(getattr(ledger.recorder, "events_table_name", ""))
    return {link.position: link.hash for link in chain_links(db, events_table)}
