"""The portal's pages of a list: the same ``limit`` and opaque ``cursor`` as the HTTP API and
the CLI (adapters/queries/paging.py), read from the page's query string, and the "Next page"
link that carries the cursor with every other parameter of the page kept."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlencode

from adapters.ledger.application import Ledger
from adapters.queries import Page, Queries, queries_for
from adapters.queries.documents import amount_due
from adapters.queries.paging import InvalidPage, parse_limit
from projections.invoice_register import status_of
from projections.view import Row


def page_params(query: Mapping[str, str]) -> tuple[int, str | None]:
    """``limit`` (default 100, 1..1000) and ``cursor`` of a list page; InvalidPage (a 422
    page) for anything else. The cursor itself is checked by the query it is handed to."""
    # an empty field of a submitted form is no limit: the default
    limit = parse_limit(query.get("limit") or None)
    cursor = query.get("cursor")
    if cursor is not None and not cursor:
        raise InvalidPage("cursor is empty: leave it out to start at the first page")
    return limit, cursor


def next_url(path: str, query: Mapping[str, str], page: Page[Any]) -> str | None:
    """The link to the page after ``page`` (None on the last page): the same filters and
    limit, the page's cursor."""
    if page.next_cursor is None:
        return None
    params = {k: v for k, v in query.items() if k != "cursor"}
    params["cursor"] = page.next_cursor
    return f"{path}?{urlencode(params)}"


def queries(ledger: Ledger) -> Queries:
    return queries_for(ledger)


#: suggestions a customer or package picker shows; when more match, the page says so and
#: the user types more of the account number or name (nothing is left out silently)
PICKER_LIMIT = 200
#: the longest search a picker takes (account numbers and package names are shorter)
MAX_SEARCH = 200


@dataclass(frozen=True)
class Picker:
    """The suggestions of a picker: the rows shown, whether more match, and the search that
    chose them (the start of an account number or package name; empty: all)."""

    rows: list[Row]
    more: bool
    search: str
    limit: int


def _search(text: str | None) -> str:
    text = (text or "").strip()
    return text if len(text) <= MAX_SEARCH and text.isprintable() else ""


def customer_picker(ledger: Ledger, search: str | None = None) -> Picker:
    """Customers whose account number starts with ``search``, by account number."""
    prefix = _search(search)
    rows, more = queries_for(ledger).pick_customers(prefix, PICKER_LIMIT)
    return Picker(rows, more, prefix, PICKER_LIMIT)


def package_picker(ledger: Ledger, currency: str | None, search: str | None = None) -> Picker:
    """Packages (of ``currency``) whose name starts with ``search``, by name."""
    prefix = _search(search)
    rows, more = queries_for(ledger).pick_packages(prefix, PICKER_LIMIT, currency)
    return Picker(rows, more, prefix, PICKER_LIMIT)


def shown_invoices(rows: list[Row], today: date) -> list[Row]:
    """Register rows with the status and amount due an invoice list shows."""
    for row in rows:
        row["status"] = status_of(row, today)
        row["amount_due"] = amount_due(row)
    return rows


def aggregates_of(ledger: Ledger, rows: list[Row], column: str) -> list[Any]:
    """The aggregates of a page's rows, in the page's order, in one set-wise read."""
    return list(queries_for(ledger).aggregates([str(row[column]) for row in rows]))
