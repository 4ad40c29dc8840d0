"""Documents by number or by id prefix, from the read models' indexes.

The ledger asks here (``LedgerBase.references``) once a reference is neither a full id nor a
number with a ``DocumentNumber``: numbers issued before those existed are found in the
register's ``number`` index, and id prefixes (at least ``MIN_PREFIX`` hex digits) as an index
range of the key column. An unknown reference costs a catch-up and two indexed reads, never a
scan of the log.
"""

from __future__ import annotations

import re
from typing import Literal
from uuid import UUID

from adapters.queries.lists import Queries
from adapters.queries.sql import Filter, select_page
from domain.errors import AmbiguousReference, NotFound
from projections.invoice_register import CREDIT_NOTES, REGISTER
from projections.payment_history import PAYMENTS
from projections.view import Table

Kind = Literal["invoice", "payment", "credit_note"]

#: hex digits an id prefix needs (16 million ids per prefix: collisions are rare, not absent)
MIN_PREFIX = 6
#: candidates listed when a prefix is ambiguous
SHOWN = 10
_PREFIX = re.compile(r"[0-9a-f][0-9a-f-]{0,35}")

_WHERE: dict[Kind, tuple[Table, str, str | None, str]] = {
    # table, id column, number column, read model
    "invoice": (REGISTER, "invoice_id", "number", "invoice_register"),
    "credit_note": (CREDIT_NOTES, "credit_note_id", "number", "invoice_register"),
    "payment": (PAYMENTS, "payment_id", None, "payment_history"),
}
_WORDS: dict[Kind, str] = {"invoice": "invoice", "credit_note": "credit note", "payment": "payment"}


class ReferenceIndex:
    """The ledger's ``ReferenceIndex``: numbers and id prefixes through the read models."""

    def __init__(self, queries: Queries) -> None:
        self.queries = queries

    def find(self, kind: Kind, ref: str) -> UUID:
        table, id_column, number_column, read_model = _WHERE[kind]
        word = _WORDS[kind]
        store = self.queries.store
        self.queries.catch_up(read_model)
        if number_column is not None and 0 < len(ref) <= 200:
            where = Filter(store, table)
            where.equal(number_column, ref)
            rows, _ = select_page(store, table, where, (id_column,), 1)
            if rows:
                return UUID(rows[0][id_column])
        prefix = ref.strip().lower()
        if not _PREFIX.fullmatch(prefix):
            raise NotFound(f"unknown {word} {ref[:80]!r}")
        if sum(c != "-" for c in prefix) < MIN_PREFIX:
            raise NotFound(
                f"unknown {word} {ref!r}: an id prefix needs at least {MIN_PREFIX} hex digits"
            )
        where = Filter(store, table)
        where.prefix(id_column, prefix)
        rows, more = select_page(store, table, where, (id_column,), SHOWN)
        matches = [row for row in rows if row[id_column].startswith(prefix)]
        if not matches:
            raise NotFound(f"unknown {word} {ref!r}")
        if len(matches) == 1:
            return UUID(matches[0][id_column])
        listed = ", ".join(
            f"{row[id_column]}"
            + (f" ({row[number_column]})" if number_column and row[number_column] else "")
            for row in matches
        )
        raise AmbiguousReference(
            f"{word} id prefix {ref!r} matches {'more than ' if more else ''}{len(matches)}"
            f" {word}s: {listed}; give more characters"
        )

    def customer_payments(self, customer_id: UUID) -> list[UUID]:
        """The customer's payments that are not cancelled, in the order they were recorded
        (the payment list's ``customer_id, seq`` index)."""
        self.queries.catch_up("payment_history")
        store = self.queries.store
        found: list[UUID] = []
        after: tuple[int] | None = None
        while True:
            where = Filter(store, PAYMENTS)
            where.equal("customer_id", str(customer_id))
            where.raw("status <> 'cancelled'")
            rows, more = select_page(store, PAYMENTS, where, ("seq",), 1000, after)
            found += [UUID(row["payment_id"]) for row in rows]
            if not more or not rows:
                return found
            after = (rows[-1]["seq"],)
