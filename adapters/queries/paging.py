"""Pages of a list: a limit with a documented maximum, and an opaque cursor.

A cursor carries the sort key of the last row of the page it follows (keyset paging): the next
page is the rows strictly after it in a stable order, read from an index, so reading page 500
costs what reading page 1 does, and rows inserted meanwhile never shift a walk (each existing
row is returned exactly once). A cursor names the list and the filters it was made for; any
other use of it, and any cursor that does not decode to exactly that shape, is refused.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from adapters.page_limits import DEFAULT_LIMIT as DEFAULT_LIMIT  # re-exported
from adapters.page_limits import MAX_LIMIT as MAX_LIMIT
from domain.errors import InvalidInput

if TYPE_CHECKING:  # the read models' module imports the domain: ``invoice show`` needs neither
    from projections.view import ColumnKind

#: a cursor longer than this was not made by us (ours are well under 300 characters)
MAX_CURSOR_LENGTH = 1024

T = TypeVar("T")


class InvalidPage(InvalidInput):
    """A limit out of range, or a cursor this list did not hand out."""

    code = "invalid_page"


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list; ``next_cursor`` is None on the last page."""

    items: list[T]
    next_cursor: str | None


def check_limit(limit: int | None) -> int:
    """The page size to use: ``limit``, or the default; refused outside 1..MAX_LIMIT."""
    if limit is None:
        return DEFAULT_LIMIT
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidPage(f"limit must be a whole number from 1 to {MAX_LIMIT}: {limit!r}")
    return limit


def parse_limit(text: str | None) -> int:
    """``check_limit`` of a limit given as text (a CLI option or a query parameter)."""
    if text is None:
        return DEFAULT_LIMIT
    stripped = text.strip()
    if not stripped.isascii() or not stripped.isdigit() or len(stripped) > 7:
        raise InvalidPage(f"limit must be a whole number from 1 to {MAX_LIMIT}: {text[:40]!r}")
    return check_limit(int(stripped))


def fingerprint(filters: dict[str, Any]) -> str:
    """A short digest of a list's filters: a cursor is only good for the filters it came from."""
    text = json.dumps(filters, sort_keys=True, default=str)
    import hashlib  # here: OpenSSL's start-up is a few ms of every CLI command importing this

    return hashlib.sha256(text.encode()).hexdigest()[:16]


def encode_cursor(listing: str, filters: str, key: Sequence[Any]) -> str:
    values = [
        v.isoformat() if isinstance(v, date) else str(v) if isinstance(v, Decimal) else v
        for v in key
    ]
    text = json.dumps({"l": listing, "f": filters, "k": values}, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(
    listing: str, filters: str, cursor: str, kinds: Sequence[ColumnKind]
) -> tuple[Any, ...]:
    """The sort key a cursor carries, typed like the columns it stands for; InvalidPage for
    anything else (garbage, another list's cursor, another filter's cursor)."""
    refused = InvalidPage(
        "cursor is not one this list handed out (cursors belong to one list and its filters;"
        " start again without a cursor)"
    )
    if not cursor or len(cursor) > MAX_CURSOR_LENGTH or not cursor.isascii():
        raise refused
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        document = json.loads(raw.decode())
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise refused from None
    if (
        not isinstance(document, dict)
        or set(document) != {"l", "f", "k"}
        or document["l"] != listing
        or document["f"] != filters
        or not isinstance(document["k"], list)
        or len(document["k"]) != len(kinds)
    ):
        raise refused
    key: list[Any] = []
    for kind, value in zip(kinds, document["k"], strict=True):
        key.append(_typed(kind, value, refused))
    return tuple(key)


def _typed(kind: ColumnKind, value: Any, refused: InvalidPage) -> Any:
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
            raise refused
        return value
    if not isinstance(value, str) or len(value) > 200 or "\x00" in value:
        raise refused
    if kind == "date":
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise refused from None
    if kind == "amount":
        try:
            amount = Decimal(value)
        except InvalidOperation:
            raise refused from None
        if not amount.is_finite() or len(value) > 40:
            raise refused
        return amount
    return value
