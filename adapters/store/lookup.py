"""Set-wise questions to the event store that the library only answers one aggregate at a time.

A billing run asks "which of these 1,000 invoice ids exist?", and a second run of the same
period needs those invoices; the repository answers with a read per id. One indexed query
over the events table's primary key per thousand ids answers for all of them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from adapters.store.database import Database
from domain.aggregate import Event
from domain.application import Ledger

#: Ids per query: one bound parameter each, well under both drivers' limits.
IDS_PER_QUERY = 1000


def load_aggregates(ledger: Ledger, db: Database, ids: Iterable[UUID]) -> dict[UUID, Any]:
    """The current state of each of ``ids`` that exists, folded from its events (read a
    thousand aggregates per query, in one snapshot) instead of one repository read each."""
    found: dict[UUID, Any] = {}
    columns = "originator_id, originator_version, topic, state"
    # a chunk's rows hold every event of its ids, in order: fold them before the next chunk
    for rows in _select(ledger, db, ids, columns, "1 = 1", "originator_id, originator_version"):
        for originator_id, version, topic, state in rows:
            aggregate_id = _uuid(originator_id)
            event = ledger.mapper.to_domain_event(
                StoredEvent(aggregate_id, int(version), topic, bytes(state))
            )
            assert isinstance(event, Event)
            found[aggregate_id] = event.mutate(found.get(aggregate_id))
    return found


def _select(
    ledger: Ledger,
    db: Database,
    ids: Iterable[UUID],
    columns: str,
    condition: str,
    order: str = "originator_id",
) -> Iterable[list[Any]]:
    """Rows of the events table for ``ids``, a chunk of ids per query, all in one snapshot."""
    table = getattr(ledger.recorder, "events_table_name", None)
    if not isinstance(table, str) or not table.replace("_", "").isalnum():
        raise ValueError(f"the ledger's recorder has no usable events table ({table!r})")
    wanted = list(dict.fromkeys(ids))
    with db.connect(write=False) as conn:
        for start in range(0, len(wanted), IDS_PER_QUERY):
            chunk = wanted[start : start + IDS_PER_QUERY]
            # SQLite's recorder keeps ids as 32 hex digits, PostgreSQL's as uuid
            params = [i.hex for i in chunk] if db.dialect == "sqlite" else chunk
            yield conn.execute(
                db.sql(
                    f'SELECT {columns} FROM "{table}" WHERE {condition}'
                    f" AND originator_id IN ({', '.join('?' * len(chunk))}) ORDER BY {order}"
                ),
                params,
            ).fetchall()


def _uuid(value: Any) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))
