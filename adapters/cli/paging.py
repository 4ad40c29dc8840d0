"""``--limit`` and ``--cursor`` of the list commands, and how the next page is announced: the
output (table or ``--json`` array) is the page; when more rows follow, one line on stderr
gives the option that fetches them (``next page: --cursor ...``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from adapters.cli.context import state
from adapters.page_limits import DEFAULT_LIMIT, MAX_LIMIT

if TYPE_CHECKING:
    from adapters.queries.paging import Page

F = TypeVar("F", bound=Callable[..., Any])


def page_options(func: F) -> F:
    """Add ``--limit`` (parsed to an int, refused with exit 2 outside 1..MAX_LIMIT) and
    ``--cursor`` to a list command."""
    # the paging code is imported when a list command runs (``invoice show`` needs none of it)
    func = click.option(
        "--cursor", help="Continue after the page that printed this cursor (stderr)."
    )(func)
    return click.option(
        "--limit",
        "limit",
        callback=_parse_limit,
        help=f"Rows per page (default {DEFAULT_LIMIT}, at most {MAX_LIMIT}).",
    )(func)


def _parse_limit(_ctx: click.Context, _param: click.Parameter, value: str | None) -> int:
    from adapters.queries.paging import parse_limit

    return parse_limit(value)


def announce_next(page: Page[Any]) -> None:
    """After a page is printed: a read model the page came from that is stopped at an event
    (one warning line each, as every reading command gives), then the next page's option."""
    from adapters.cli.read_side import warn_stopped  # the read side: only once a list is read
    from adapters.queries import queries_for

    warn_stopped(queries_for(state().ledger).runner)
    if page.next_cursor is not None:
        click.echo(f"next page: --cursor {page.next_cursor}", err=True)
