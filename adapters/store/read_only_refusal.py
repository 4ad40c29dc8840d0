"""What a write to a store marked read-only (read_only.py) becomes: :class:`StoreReadOnly`.

Apart from read_only.py so that the recorders, which turn the database's refusal into it,
import nothing more than this (a store on SQLite never imports psycopg).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from domain.errors import Unavailable

#: how every refusal of the read-only mark begins, on both stores
MARKER = "tollbook store is read-only"


class StoreReadOnly(Unavailable):
    """A write to a store marked read-only (being moved, or retired after a move)."""

    code = "store_read_only"


def store_read_only(error: BaseException) -> StoreReadOnly | None:
    """The refusal ``error`` is, if a read-only mark raised it (on either store, wrapped by the
    library or not); None for any other error."""
    seen: BaseException | None = error
    for _ in range(5):  # the library wraps the driver's error once or twice
        if seen is None:
            return None
        text = str(seen)
        if MARKER in text:
            return StoreReadOnly(text[text.index(MARKER) :].splitlines()[0])
        seen = seen.__cause__ or seen.__context__
    return None


@contextmanager
def refused_as_read_only() -> Iterator[None]:
    """Raise :class:`StoreReadOnly` for a write the read-only mark refused (what the recorders'
    callers catch); any other error passes as it is."""
    try:
        yield
    except Exception as error:
        refusal = store_read_only(error)
        if refusal is None:
            raise
        raise refusal from error
