"""The one query path of every list, search, balance and lookup: CLI, HTTP API, portal, PDF
batches and exports all call these, and each reads a read model (never folds the log).

Every list catches its read models up first (cheap when nothing is new: two small reads), so
it includes every event committed before it was asked for, whether or not a follower runs:
a client that wrote and then lists sees its write. If the catch-up fails (a projection that
cannot apply an event), the list is served from the read model as it stands and the failure
is logged; `tollbook projections status` shows it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Literal, get_args
from uuid import UUID

import structlog

from adapters.ledger.application import Ledger
from adapters.ledger.folds import LogFolds
from adapters.queries.paging import (
    MAX_LIMIT,
    Page,
    check_limit,
    decode_cursor,
    encode_cursor,
    fingerprint,
)
from adapters.queries.sql import Filter, SortKey, amount_sql, select_page, select_sorted
from adapters.store.lookup import current_version, load_aggregates
from adapters.store.read_models import SqlViewStore
from domain.errors import InvalidDate, InvalidInput
from domain.invoice_status import STATUSES
from projections.customer_balances import BALANCES
from projections.directory import CUSTOMERS, PACKAGES
from projections.invoice_register import CREDIT_NOTES, OPEN_PHASES, OPEN_STATUS_PHASES, REGISTER
from projections.payment_history import PAYMENTS
from projections.runner import Runner
from projections.view import ColumnKind, Row, Table

log = structlog.get_logger("tollbook.queries")


#: the stable order of each list: ends with a unique column, backed by an index
ORDER: dict[str, tuple[str, ...]] = {
    "invoices": ("seq",),
    "credit_notes": ("seq",),
    "payments": ("seq",),
    "customers": ("seq",),
    "packages": ("seq",),
    "balances": ("customer_account", "customer_id", "currency"),
    "aged": ("customer_account", "customer_id", "currency"),
    "payment_history": ("position",),
}


@dataclass(frozen=True)
class InvoiceQuery:
    """Which invoices: every filter is optional; ``today`` decides overdue."""

    customer_id: str | None = None
    status: str | None = None
    date_from: date | None = None  # invoice date, inclusive
    date_to: date | None = None
    period_from: date | None = None  # period start (else invoice date), inclusive
    period_to: date | None = None
    number: str | None = None
    issued_only: bool = False  # leave drafts out
    currency: str | None = None
    open_only: bool = False  # issued with something still owed (what a payment may pay)
    due_min: Decimal | None = None  # amount due (``amount_due``), inclusive
    due_max: Decimal | None = None
    sort: str | None = None  # one of SORTS; None: the order drafted
    descending: bool = False

    def check(self) -> None:
        if self.status is not None and self.status not in STATUSES:
            raise InvalidInput(f"unknown status {self.status!r}: one of {', '.join(STATUSES)}")
        if self.sort is not None and self.sort not in SORTS:
            raise InvalidInput(f"unknown sort {self.sort!r}: one of {', '.join(SORTS)}")
        if self.date_from and self.date_to and self.date_to < self.date_from:
            raise InvalidDate("the 'to' date is before the 'from' date")


class Queries:
    """The read models of one ledger's database, caught up before each read."""

    def __init__(self, ledger: Ledger, store: SqlViewStore) -> None:
        self.ledger = ledger
        self.store = store
        self.runner = Runner(ledger, store)
        # the store keeps a per-process row cache: one catch-up at a time in this process
        self._lock = threading.Lock()

    # ------------------------------------------------------------ catching up

    def catch_up(self, *names: str) -> int | None:
        """Bring the named read models (all when none named) up to the log's head; returns
        that position when they hold it (None when one could not catch up).

        When nothing is new (the usual case of a read) that is one query, outside the lock
        that keeps this process's catch-ups one at a time."""
        wanted = list(names) or [p.name for p in self.runner.projections]
        head = self._at_head(wanted)
        if head is not None:
            return head
        with self._lock:
            try:
                self.runner.catch_up(list(names))
            except Exception:
                # serve what the read model holds; the follower and `projections status` say why
                log.warning(
                    "read models could not catch up; reading them as they stand",
                    read_models=list(names),
                    exc_info=True,
                )
        return self._at_head(wanted)

    def _at_head(self, names: list[str]) -> int | None:
        try:
            return self.store.at_head(names)
        except Exception:  # the catch-up says why, or the read fails next
            return None

    # ------------------------------------------------------------ pages

    def page(
        self,
        listing: str,
        table: Table,
        where: Filter,
        filters: dict[str, Any],
        limit: int | None,
        cursor: str | None,
    ) -> Page[Row]:
        """One page of ``table`` in the stable order of ``listing`` (``ORDER``); the cursor
        names the listing and ``filters``."""
        size = check_limit(limit)
        order = ORDER[listing]
        digest = fingerprint(filters)
        after = None
        if cursor is not None:
            after = decode_cursor(listing, digest, cursor, [table.columns[c] for c in order])
        rows, more = select_page(self.store, table, where, order, size, after)
        next_cursor = None
        if more and rows:
            next_cursor = encode_cursor(listing, digest, [rows[-1][c] for c in order])
        return Page(rows, next_cursor)

    def invoices(
        self,
        wanted: InvoiceQuery,
        today: date,
        *,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[Row]:
        """Register rows matching ``wanted``, in the order the invoices were drafted."""
        wanted.check()
        check_limit(limit)
        self.catch_up("invoice_register")
        where = Filter(self.store, REGISTER)
        if wanted.customer_id is not None:
            where.equal("customer_id", wanted.customer_id)
        if wanted.number is not None:
            where.equal("number", wanted.number)
        if wanted.date_from is not None:
            where.compare("invoice_date", ">=", wanted.date_from)
        if wanted.date_to is not None:
            where.compare("invoice_date", "<=", wanted.date_to)
        if wanted.period_from is not None:
            where.compare("period_day", ">=", wanted.period_from)
        if wanted.period_to is not None:
            where.compare("period_day", "<=", wanted.period_to)
        if wanted.issued_only:
            where.raw("phase <> 'draft'")
        if wanted.status is not None:
            _status_filter(where, wanted.status, today)
        if wanted.currency is not None:
            where.equal("currency", wanted.currency)
        if wanted.open_only:
            where.among("phase", OPEN_PHASES)
            where.amount("outstanding", ">", Decimal(0))
        for bound, op in ((wanted.due_min, ">="), (wanted.due_max, "<=")):
            if bound is not None:
                where.amount(AMOUNT_DUE, op, bound)
        filters = {k: v for k, v in wanted.__dict__.items() if v is not None and v is not False}
        if wanted.sort is None:
            return self.page("invoices", REGISTER, where, filters, limit, cursor)
        if wanted.sort == "status":
            filters["today"] = today  # a status depends on the day asked
        keys = _sort_keys(self.store, wanted.sort, wanted.descending, today)
        return self._sorted("invoices_sorted", REGISTER, where, keys, filters, limit, cursor)

    def _sorted(
        self,
        listing: str,
        table: Table,
        where: Filter,
        keys: list[SortKey],
        filters: dict[str, Any],
        limit: int | None,
        cursor: str | None,
    ) -> Page[Row]:
        size = check_limit(limit)
        digest = fingerprint(filters)
        after = None
        if cursor is not None:
            after = decode_cursor(listing, digest, cursor, [key.kind for key in keys])
        rows, last, more = select_sorted(self.store, table, where, keys, size, after)
        next_cursor = encode_cursor(listing, digest, last) if more and last else None
        return Page(rows, next_cursor)

    def credit_notes(
        self,
        *,
        invoice_id: str | None = None,
        customer_id: str | None = None,
        issued_from: date | None = None,
        issued_to: date | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[Row]:
        check_limit(limit)
        self.catch_up("invoice_register")
        where = Filter(self.store, CREDIT_NOTES)
        filters: dict[str, Any] = {}
        if invoice_id is not None:
            where.equal("invoice_id", invoice_id)
            filters["invoice_id"] = invoice_id
        if customer_id is not None:
            where.equal("customer_id", customer_id)
            filters["customer_id"] = customer_id
        if issued_from is not None:
            where.compare("issued_on", ">=", issued_from)
            filters["issued_from"] = issued_from
        if issued_to is not None:
            where.compare("issued_on", "<=", issued_to)
            filters["issued_to"] = issued_to
        return self.page("credit_notes", CREDIT_NOTES, where, filters, limit, cursor)

    def payments(
        self,
        *,
        customer_id: str | None = None,
        received_from: date | None = None,
        received_to: date | None = None,
        status: str | None = None,
        currency: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[Row]:
        check_limit(limit)
        self.catch_up("payment_history")
        where = Filter(self.store, PAYMENTS)
        filters: dict[str, Any] = {}
        if customer_id is not None:
            where.equal("customer_id", customer_id)
            filters["customer_id"] = customer_id
        if received_from is not None:
            where.compare("received_on", ">=", received_from)
            filters["received_from"] = received_from
        if received_to is not None:
            where.compare("received_on", "<=", received_to)
            filters["received_to"] = received_to
        if status is not None:
            where.equal("status", status)
            filters["status"] = status
        if currency is not None:
            where.equal("currency", currency)
            filters["currency"] = currency
        return self.page("payments", PAYMENTS, where, filters, limit, cursor)

    def customers(self, *, limit: int | None = None, cursor: str | None = None) -> Page[Row]:
        check_limit(limit)
        self.catch_up("directory")
        return self.page("customers", CUSTOMERS, Filter(self.store, CUSTOMERS), {}, limit, cursor)

    def packages(
        self,
        *,
        currency: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[Row]:
        check_limit(limit)
        self.catch_up("directory")
        where = Filter(self.store, PACKAGES)
        if currency is not None:
            where.equal("currency", currency)
        filters = {"currency": currency} if currency else {}
        return self.page("packages", PACKAGES, where, filters, limit, cursor)

    def pick_customers(self, prefix: str, limit: int) -> tuple[list[Row], bool]:
        """Up to ``limit`` customers whose account number starts with ``prefix`` (every one
        when empty), by account number; and whether more match (a picker then asks the user
        to type more instead of leaving the rest out silently)."""
        self.catch_up("directory")
        where = Filter(self.store, CUSTOMERS)
        if prefix:
            where.raw("SUBSTR(account_number, 1, ?) = ?", len(prefix), prefix)
        return select_page(self.store, CUSTOMERS, where, ("account_number",), limit)

    def pick_packages(
        self, prefix: str, limit: int, currency: str | None = None
    ) -> tuple[list[Row], bool]:
        """Up to ``limit`` packages (of ``currency``) whose name starts with ``prefix``, by
        name; and whether more match."""
        self.catch_up("directory")
        where = Filter(self.store, PACKAGES)
        if currency is not None:
            where.equal("currency", currency)
        if prefix:
            where.raw("SUBSTR(name, 1, ?) = ?", len(prefix), prefix)
        return select_page(self.store, PACKAGES, where, ("name",), limit)

    def every_customer(self) -> list[Any]:
        """Every customer aggregate, in the order they were registered (``Ledger.customers``):
        their ids from the directory read model, then their own events set-wise, so the cost
        follows the customers, not the log.

        A billing run, rerating or the scheduler must not miss a customer: when the directory
        cannot be brought up to the log's head (it is stopped at an event), this folds the
        customers' events as ``Ledger.customers`` does, and says so in the log."""
        rows = self.directory()
        if rows is None:
            log.warning("directory read model is behind the log; folding the customers instead")
            return LogFolds(self.ledger).customers()
        return self.aggregates([row["customer_id"] for row in rows])

    def directory(self) -> list[Row] | None:
        """Every customer row of the directory, in registration order, read a thousand at a
        time by its ``seq`` index; None when the directory is stopped behind the log's head."""
        head = self.runner.head()
        self.catch_up("directory")
        if self.store.tracking(["directory"])["directory"].position < head:
            return None
        found: list[Row] = []
        after: tuple[Any, ...] | None = None
        while True:
            rows, more = select_page(
                self.store, CUSTOMERS, Filter(self.store, CUSTOMERS), ("seq",), MAX_LIMIT, after
            )
            found += rows
            if not more:
                return found
            after = (rows[-1]["seq"],)

    def balances(
        self,
        *,
        customer_id: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[Row]:
        """Balance rows by customer account, then currency."""
        check_limit(limit)
        self.catch_up("balances")
        where = Filter(self.store, BALANCES)
        if customer_id is not None:
            where.equal("customer_id", customer_id)
        filters = {"customer_id": customer_id} if customer_id else {}
        return self.page("balances", BALANCES, where, filters, limit, cursor)

    def register_rows(self, invoice_ids: list[str]) -> dict[str, Row]:
        """The register rows of these invoices (at most a page's worth), by id."""
        found: dict[str, Row] = {}
        if not invoice_ids:
            return found
        self.catch_up("invoice_register")
        for start in range(0, len(invoice_ids), 500):
            chunk = invoice_ids[start : start + 500]
            where = Filter(self.store, REGISTER)
            where.among("invoice_id", chunk)
            rows, _ = select_page(self.store, REGISTER, where, ("invoice_id",), len(chunk))
            found.update((row["invoice_id"], row) for row in rows)
        return found

    def version_of(self, aggregate_id: UUID) -> int | None:
        """The current version of an aggregate (None when there is none), from the event
        store's index: one query, no event loaded (what an ETag needs)."""
        return current_version(self.ledger, self.store.db, aggregate_id)

    def aggregates(self, ids: list[str]) -> list[Any]:
        """The current aggregates of a page's ids, in the page's order, in one set-wise read
        of the event store (a page holds at most MAX_LIMIT ids)."""
        wanted = [UUID(i) for i in ids]
        found = load_aggregates(self.ledger, self.store.db, wanted)
        return [found[i] for i in wanted if i in found]


#: what an invoice asks for: its outstanding amount once issued, the would-be total of a draft
AMOUNT_DUE = "CASE WHEN state = 'draft' THEN total ELSE outstanding END"

#: the invoice list's sort columns (the portal's column headers), each ended by ``seq``
Sort = Literal["number", "customer", "date", "due_date", "status", "total", "due"]
SORTS: tuple[Sort, ...] = get_args(Sort)
_SORT_COLUMNS: dict[str, tuple[str, ColumnKind]] = {
    "customer": ("customer_account", "text"),
    "date": ("invoice_date", "date"),
    "due_date": ("due_date", "date"),
    "total": ("total", "amount"),
    "due": (AMOUNT_DUE, "amount"),
}


def _sort_keys(store: SqlViewStore, sort: str, descending: bool, today: date) -> list[SortKey]:
    """The keys of a sorted invoice list: the column, then ``seq`` in the same direction (a
    stable order for paging). Drafts have no number: they come last either way."""
    keys: list[SortKey] = []
    if sort == "number":
        keys.append(SortKey("CASE WHEN number IS NULL THEN 1 ELSE 0 END", "int"))
        keys.append(SortKey("COALESCE(number, '')", "text", descending))
    elif sort == "status":
        keys.append(SortKey(_status_sql(store, today), "text", descending))
    else:
        column, kind = _SORT_COLUMNS[sort]
        expression = amount_sql(store, column) if kind == "amount" else column
        keys.append(SortKey(expression, kind, descending))
    keys.append(SortKey("seq", "int", descending))
    return keys


_OPEN_SQL = "(" + ", ".join(f"'{phase}'" for phase in OPEN_PHASES) + ")"


def _status_sql(store: SqlViewStore, today: date) -> str:
    """``status_of`` in SQL, for sorting: the day is a literal (a date we made, not input)."""
    day = f"DATE '{today.isoformat()}'" if store.db.dialect == "postgres" else f"'{today}'"
    return (
        f"CASE WHEN phase IN {_OPEN_SQL} AND due_date < {day} THEN 'overdue'"
        + "".join(
            f" WHEN phase = '{phase}' THEN '{status}'"
            for status, phase in OPEN_STATUS_PHASES.items()
        )
        + " ELSE phase END"
    )


def _status_filter(where: Filter, status: str, today: date) -> None:
    """A status is the register's ``phase`` and, for what is still owed, the due date."""
    if status in ("draft", "void", "paid", "credited"):
        where.equal("phase", status)
        return
    if status == "overdue":
        where.among("phase", OPEN_PHASES)
        where.compare("due_date", "<", today)
        return
    where.equal("phase", OPEN_STATUS_PHASES[status])
    where.compare("due_date", ">=", today)
