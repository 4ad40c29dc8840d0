"""Set-wise reads of the event store, which the library's repository does one aggregate at a time.

A second billing run of a period needs the 1,000 invoices the first one made; the repository
reads them with a query each. One indexed query over the events table's primary key per 200
ids reads them all.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from adapters.ledger.application import Ledger
from adapters.store.database import Database
from domain.aggregate import Event

#: Aggregates read per query: their events are held until folded (a billing run's invoice is
#: one ~14 KB event), and one bound parameter each stays well under both drivers' limits.
LOADS_PER_QUERY = 200


def _events_table(ledger: Ledger) -> str:
    table = getattr(ledger.recorder, "events_table_name", None)
    if not isinstance(table, str) or not table.replace("_", "").isalnum():
        raise ValueError(f"the ledger's recorder has no usable events table ({table!r})")
    return table


def current_version(ledger: Ledger, db: Database, aggregate_id: UUID) -> int | None:
    """The version of an aggregate's newest event (None: no such aggregate), read from the
    events table's primary key without loading a single event."""
    table = _events_table(ledger)
    with db.connect(write=False) as conn:
        row = conn.execute(
            db.sql(f'SELECT MAX(originator_version) FROM "{table}" WHERE originator_id = ?'),
            (aggregate_id.hex if db.dialect == "sqlite" else aggregate_id,),
        ).fetchone()
    return None if row is None or row[0] is None else int(row[0])


def load_aggregates(ledger: Ledger, db: Database, ids: Iterable[UUID]) -> dict[UUID, Any]:
    """The current state of each of ``ids`` that exists (absent ones are left out), folded
    from its events, all read in one snapshot."""
    table = _events_table(ledger)
    wanted = list(dict.fromkeys(ids))
    found: dict[UUID, Any] = {}
    with db.connect(write=False) as conn:
        for start in range(0, len(wanted), LOADS_PER_QUERY):
            chunk = wanted[start : start + LOADS_PER_QUERY]
            # SQLite's recorder keeps ids as 32 hex digits, PostgreSQL's as uuid
            params = [i.hex for i in chunk] if db.dialect == "sqlite" else chunk
            rows = conn.execute(
                db.sql(
                    f'SELECT originator_id, originator_version, topic, state FROM "{table}"'
                    f" WHERE originator_id IN ({', '.join('?' * len(chunk))})"
                    " ORDER BY originator_id, originator_version"
                ),
                params,
            )
            for originator_id, version, topic, state in rows:
                aggregate_id = _uuid(originator_id)
                event = ledger.mapper.to_domain_event(
                    StoredEvent(aggregate_id, int(version), topic, bytes(state))
                )
                assert isinstance(event, Event)
                found[aggregate_id] = event.mutate(found.get(aggregate_id))
    return found


def _uuid(value: Any) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))
