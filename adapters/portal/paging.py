"""The portal's pages of a list: the same ``limit`` and opaque ``cursor`` as the HTTP API and
the CLI (adapters/queries/paging.py), read from the page's query string, and the "Next page"
link that carries the cursor with every other parameter of the page kept."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from adapters.queries import MAX_LIMIT, Page, Queries, queries_for
from adapters.queries.paging import InvalidPage, parse_limit
from domain.application import Ledger
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


def customer_rows(ledger: Ledger) -> list[Row]:
    """The customers of a dropdown, by account number: one page of the directory read model
    (at most MAX_LIMIT; a ledger with more customers gets a text field that takes any account,
    see docs/portal.md)."""
    rows = queries_for(ledger).customers(limit=MAX_LIMIT).items
    return sorted(rows, key=lambda row: str(row["account_number"]))


def aggregates_of(ledger: Ledger, rows: list[Row], column: str) -> list[Any]:
    """The aggregates of a page's rows, in the page's order, in one set-wise read."""
    return list(queries_for(ledger).aggregates([str(row[column]) for row in rows]))
