"""Keyset pages of one read-model table: filters, a stable order, ``LIMIT``.

Every query here is answered from an index of the table (the order columns, the filter
columns), so its cost follows the page size and the rows that match, never the length of the
event log.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from adapters.store.read_models import SqlViewStore
from projections.view import ColumnKind, Row, Table


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

    def amount(self, expression: str, op: str, value: Decimal) -> None:
        """An amount expression compared as a number (``amount_sql``)."""
        if op not in ("<", "<=", ">", ">="):
            raise ValueError(f"not a comparison: {op!r}")
        self.raw(
            f"{amount_sql(self.store, expression)} {op} {_marker(self.store, 'amount')}",
            _param(self.store, "amount", value),
        )

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


@dataclass(frozen=True)
class SortKey:
    """One key of a sorted list: an SQL expression over the table's columns, how its values
    are typed (in a cursor), and its direction. The last key of a sort must be unique."""

    expression: str
    kind: ColumnKind
    descending: bool = False


def amount_sql(store: SqlViewStore, expression: str) -> str:
    """An amount expression that orders and compares as a number: PostgreSQL stores amounts
    as NUMERIC; SQLite as exact decimal text, compared here as a double (an amount has at most
    15 significant digits, docs/money.md, and every such decimal is a distinct double in the
    same order)."""
    return f"CAST({expression} AS REAL)" if store.db.dialect == "sqlite" else expression


def _marker(store: SqlViewStore, kind: ColumnKind) -> str:
    return amount_sql(store, "?") if kind == "amount" else "?"


def _param(store: SqlViewStore, kind: ColumnKind, value: Any) -> Any:
    if kind == "amount":
        return str(value) if store.db.dialect == "sqlite" else Decimal(value)
    return store.to_db(kind, value)


def _key_value(store: SqlViewStore, kind: ColumnKind, value: Any) -> Any:
    """A key value as read from the database, typed as a cursor carries it."""
    if kind == "amount":
        return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    if kind == "int":
        return int(value)
    return store.from_db(kind, value)


def select_sorted(
    store: SqlViewStore,
    table: Table,
    where: Filter,
    keys: Sequence[SortKey],
    limit: int,
    after: Sequence[Any] | None = None,
) -> tuple[list[Row], tuple[Any, ...] | None, bool]:
    """Up to ``limit`` rows matching ``where`` in the order of ``keys`` (each ascending or
    descending) that come after the key ``after``; the last row's key (for the next cursor)
    and whether more rows follow. Keyset paging over any mix of directions: the rows after
    (v1, v2, ...) are those with k1 past v1, or k1 = v1 and k2 past v2, and so on."""
    clauses, params = list(where.clauses), list(where.params)
    if after is not None:
        branches: list[str] = []
        for depth, key in enumerate(keys):
            parts = [f"{k.expression} = {_marker(store, k.kind)}" for k in keys[:depth]]
            op = "<" if key.descending else ">"
            parts.append(f"{key.expression} {op} {_marker(store, key.kind)}")
            branches.append("(" + " AND ".join(parts) + ")")
            params.extend(
                _param(store, k.kind, v) for k, v in zip(keys[: depth + 1], after, strict=False)
            )
        clauses.append("(" + " OR ".join(branches) + ")")
    columns = [*table.columns, *(key.expression for key in keys)]
    statement = f"SELECT {', '.join(columns)} FROM {table.name}"
    if clauses:
        statement += " WHERE " + " AND ".join(clauses)
    order = ", ".join(f"{k.expression}{' DESC' if k.descending else ''}" for k in keys)
    statement += f" ORDER BY {order} LIMIT {int(limit) + 1}"
    with store.db.connect(write=False) as conn:
        found = conn.execute(store.db.sql(statement), tuple(params)).fetchall()
    width = len(table.columns)
    rows = [store.row_from_db(table, values[:width]) for values in found[:limit]]
    last = None
    if rows:
        raw = found[len(rows) - 1][width:]
        last = tuple(_key_value(store, k.kind, v) for k, v in zip(keys, raw, strict=True))
    return rows, last, len(found) > limit
