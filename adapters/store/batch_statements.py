"""The statements of one group-commit transaction over one or more stores of a PostgreSQL node
(chain_postgres.write_parts): one statement per round trip whatever the number of stores, so
a transaction for four tenants costs the Python of one (each statement sent is ~0.1 ms of
psycopg's CPU on top of its round trip).

Every statement names each store's own schema and tables; the texts are made once per
combination of stores and kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from psycopg.sql import SQL, Composed, Identifier

from adapters.store.chain import CHAIN_COLUMNS


@dataclass(frozen=True)
class Tables:
    """Where one store's events and chain are."""

    schema: str
    events: str
    chain: str
    id_type: str  # the events table's originator_id type: uuid or text

    def qualified(self, table: str) -> Identifier:
        return Identifier(self.schema, table)


def lock_nowait(stores: Sequence[Tables]) -> Composed:
    """The stores' EXCLUSIVE locks in the order given, failing at once if any is held."""
    tables = SQL(", ").join(store.qualified(store.events) for store in stores)
    return SQL("LOCK TABLE {} IN EXCLUSIVE MODE NOWAIT").format(tables)


@lru_cache(maxsize=256)
def read_heads(stores: tuple[Tables, ...]) -> Composed:
    """Per store (``part``: its index): its chain's last link (``id`` NULL, ``num`` the
    position) and which of the (id, version) pairs sent (two array parameters per store) it
    holds already (``num`` the version)."""
    selects = []
    for part, store in enumerate(stores):
        selects.append(
            SQL(
                "(SELECT {0}::int AS part, NULL::text AS id, position AS num, hash"
                " FROM {1} ORDER BY position DESC LIMIT 1)"
                " UNION ALL SELECT {0}, e.originator_id::text, e.originator_version, NULL"
                " FROM {2} AS e JOIN unnest(%s::{3}[], %s::bigint[]) AS n(id, version)"
                " ON e.originator_id = n.id AND e.originator_version = n.version"
            ).format(
                part,
                store.qualified(store.chain),
                store.qualified(store.events),
                SQL(store.id_type),
            )
        )
    return SQL(" UNION ALL ").join(selects)


@lru_cache(maxsize=256)
def insert_events(stores: tuple[Tables, ...]) -> Composed:
    """Each store's events from four arrays (ids, versions, topics, states), returning
    (part, position) for every row."""
    ctes = []
    selects = []
    for part, store in enumerate(stores):
        ctes.append(
            SQL(
                "{0} AS (INSERT INTO {1} (originator_id, originator_version, topic, state)"
                " SELECT * FROM unnest(%b::{2}[], %b::bigint[], %b::text[], %b::bytea[])"
                " RETURNING notification_id)"
            ).format(Identifier(f"i{part}"), store.qualified(store.events), SQL(store.id_type))
        )
        selects.append(
            SQL("SELECT {0}::int AS part, notification_id FROM {1}").format(
                part, Identifier(f"i{part}")
            )
        )
    return SQL("WITH {} {}").format(SQL(", ").join(ctes), SQL(" UNION ALL ").join(selects))


@lru_cache(maxsize=256)
def insert_links(stores: tuple[Tables, ...]) -> Composed:
    """Each store's chain rows from five arrays (the chain's columns)."""
    inserts = [
        SQL(
            "INSERT INTO {0} (" + CHAIN_COLUMNS + ") SELECT * FROM"
            " unnest(%b::bigint[], %b::text[], %b::bigint[], %b::bigint[], %b::text[])"
        ).format(store.qualified(store.chain))
        for store in stores
    ]
    if len(inserts) == 1:
        return inserts[0]
    ctes = SQL(", ").join(
        SQL("{0} AS ({1})").format(Identifier(f"l{part}"), insert)
        for part, insert in enumerate(inserts[:-1])
    )
    return SQL("WITH {} {}").format(ctes, inserts[-1])
