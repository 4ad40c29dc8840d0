"""Set-wise questions to the event store that the library only answers one aggregate at a time.

A billing run asks "which of these 1,000 invoice ids exist?"; the repository answers with a
read per id. One indexed query over the events table's primary key answers it for all of them.
"""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from adapters.store.database import Database
from domain.application import Ledger

#: Ids per query: one bound parameter each, well under both drivers' limits.
IDS_PER_QUERY = 1000


def stored_aggregates(ledger: Ledger, db: Database, ids: Iterable[UUID]) -> set[UUID]:
    """The subset of ``ids`` that have at least one event in ``ledger``'s store."""
    table = getattr(ledger.recorder, "events_table_name", None)
    if not isinstance(table, str) or not table.replace("_", "").isalnum():
        raise ValueError(f"the ledger's recorder has no usable events table ({table!r})")
    wanted = list(dict.fromkeys(ids))
    found: set[UUID] = set()
    with db.connect() as conn:
        for start in range(0, len(wanted), IDS_PER_QUERY):
            chunk = wanted[start : start + IDS_PER_QUERY]
            # SQLite's recorder keeps ids as 32 hex digits, PostgreSQL's as uuid
            params = [i.hex for i in chunk] if db.dialect == "sqlite" else chunk
            rows = conn.execute(
                db.sql(
                    f'SELECT originator_id FROM "{table}" WHERE originator_version = 1'
                    f" AND originator_id IN ({', '.join('?' * len(chunk))})"
                ),
                params,
            )
            found.update(r[0] if isinstance(r[0], UUID) else UUID(str(r[0])) for r in rows)
    return found
