"""Keyset pages of one read-model table: filters, a stable order, ``LIMIT``.

Every query here is answered from an index of the table (the order columns, the filter
columns), so its cost follows the page size and the rows that match, never the length of the
event log.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from adapters.store.read_models import SqlViewStore
from projections.view import Row, Table


class Filter:
    """SQL conditions on one table, with ``?`` markers and their parameters encoded for the
    columns they compare with (``SqlViewStore.to_db``)."""

    def __init__(self, store: SqlViewStore, table: Table) -> None:
        self.store, self.table = store, table
        self.clauses: list[str] = []
        self.params: list[Any] = []

    def _value(self, column: str, value: Any) -> Any:
        return self.store.to_db(self.table.columns[column], value)

    def raw(self, clause: str, *params: Any) -> None:
        self.clauses.append(clause)
        self.params.extend(params)

    def equal(self, column: str, value: Any) -> None:
        self.raw(f"{column} = ?", self._value(column, value))

    def compare(self, column: str, op: str, value: Any) -> None:
        if op not in ("<", "<=", ">", ">="):
            raise ValueError(f"not a comparison: {op!r}")
        self.raw(f"{column} {op} ?", self._value(column, value))

    def among(self, column: str, values: Sequence[Any]) -> None:
        marks = ", ".join("?" for _ in values)
        self.raw(f"{column} IN ({marks})", *(self._value(column, v) for v in values))

    def prefix(self, column: str, prefix: str) -> None:
        """Rows whose ``column`` starts with ``prefix`` (lower-case hex and dashes) as an index
        range, [prefix, prefix + 'g'): every such text sorts below 'g' after the prefix. The
        caller still checks ``startswith`` (a collation may order dashes differently)."""
        self.raw(f"{column} >= ? AND {column} < ?", prefix, prefix + "g")


def select_page(
    store: SqlViewStore,
    table: Table,
    where: Filter,
    order: Sequence[str],
    limit: int,
    after: tuple[Any, ...] | None = None,
) -> tuple[list[Row], bool]:
    """Up to ``limit`` rows matching ``where`` after the key ``after`` in ``order`` (which must
    end with a unique column); and whether more rows follow."""
    clauses, params = list(where.clauses), list(where.params)
    if after is not None:
        kinds = [table.columns[c] for c in order]
        encoded = [store.to_db(kind, value) for kind, value in zip(kinds, after, strict=True)]
        if len(order) == 1:
            clauses.append(f"{order[0]} > ?")
        else:
            clauses.append(f"({', '.join(order)}) > ({', '.join('?' for _ in order)})")
        params.extend(encoded)
    statement = f"SELECT {', '.join(table.columns)} FROM {table.name}"
    if clauses:
        statement += " WHERE " + " AND ".join(clauses)
    statement += f" ORDER BY {', '.join(order)} LIMIT {int(limit) + 1}"
    with store.db.connect(write=False) as conn:
        found = conn.execute(store.db.sql(statement), tuple(params)).fetchall()
    rows = [store.row_from_db(table, values) for values in found]
    return rows[:limit], len(rows) > limit
