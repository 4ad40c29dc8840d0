"""Paged lists over HTTP: ``?limit=&cursor=``; the body stays a JSON array (as before paging),
and the next page is announced in headers: ``Link: <...&cursor=...>; rel="next"`` (RFC 8288)
and ``X-Next-Cursor``. No such headers: this was the last page."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import Query, Request, Response

from adapters.queries.paging import DEFAULT_LIMIT, MAX_CURSOR_LENGTH, MAX_LIMIT, Page

T = TypeVar("T")

Limit = Annotated[
    int | None,
    Query(ge=1, le=MAX_LIMIT, description=f"rows per page (default {DEFAULT_LIMIT})"),
]
Cursor = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=MAX_CURSOR_LENGTH,
        description="the X-Next-Cursor of the previous page",
    ),
]


def paged(request: Request, response: Response, page: Page[Any], items: list[T]) -> list[T]:
    """``items`` (the page's documents) with the next page's headers set."""
    if page.next_cursor is not None:
        url = request.url.include_query_params(cursor=page.next_cursor)
        response.headers["Link"] = f'<{url.path}?{url.query}>; rel="next"'
        response.headers["X-Next-Cursor"] = page.next_cursor
    return items
