"""Stored values the ledger cannot use as they are: what ``reconcile`` lists for a person.

A store written before the domain had its limits (docs/money.md) may hold events with values
no command accepts today. Reading them never fails (read models, views and PDFs cope, or a read
model stops visibly: docs/projections.md), but a person should know they are there. These are
the bounds of what the ledger's arithmetic, calendar and databases hold, not the (narrower)
business limits the commands enforce. Both live in domain/limits.py (``STORED_*``,
``CALENDAR_ENDS``, ``unsafe_character``), one place per rule:

- a number with more than ``STORED_DIGITS`` (28) significant digits (the precision of the
  ledger's arithmetic: sums and products beyond it are rounded) or that is not finite;
- a date in year 1 or 9999 (the day before or after does not exist, so due dates and periods
  around it cannot be worked out), or a day count that reaches past any date;
- text with a character no command accepts in any field (a C0/C1 control such as NUL, which
  read models store as U+FFFD, or the ESC of ANSI escapes; a bidirectional override; U+2028,
  U+2029; a noncharacter), or longer than ``STORED_TEXT`` (100,000) characters;
- an integer outside a 64-bit column.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

from domain.aggregate import Event
from domain.limits import (
    CALENDAR_ENDS,
    STORED_DAYS,
    STORED_DIGITS,
    STORED_INTEGER,
    STORED_TEXT,
    unsafe_character,
)

_SHOWN = 60  # characters of a value quoted in a finding


def out_of_range(event: Event) -> list[tuple[str, str]]:
    """Each field of the event (dotted path) whose value the ledger cannot use, and why."""
    payload = event.model_dump(exclude={"originator_id", "originator_version"})
    return [(path, reason) for path, value in _leaves(payload, "") if (reason := _why(path, value))]


def _leaves(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _leaves(item, f"{path}[{index}]")
    else:
        yield path, value


def _why(path: str, value: Any) -> str | None:
    if isinstance(value, Decimal):
        if not value.is_finite():
            return f"{value} is not a finite number"
        _, figures, exponent = value.as_tuple()
        assert isinstance(exponent, int)  # finite
        digits = len(figures) + max(0, exponent)
        if digits > STORED_DIGITS:
            return f"{shown(value)} has {digits} significant digits (at most {STORED_DIGITS})"
    elif isinstance(value, bool):
        return None
    elif isinstance(value, int):
        if abs(value) > STORED_INTEGER:
            return f"{shown(value)} does not fit a 64-bit integer"
        if path.endswith("_days") and abs(value) > STORED_DAYS:
            return f"{value} days reaches past any date"
    elif isinstance(value, date):
        if value.year in CALENDAR_ENDS:
            return f"{value} is at the end of the calendar (no day before or after it)"
    elif isinstance(value, str):
        if len(value) > STORED_TEXT:
            return f"text of {len(value):,} characters (at most {STORED_TEXT:,})"
        index = unsafe_character(value)
        if index is not None:
            return f"text with the character U+{ord(value[index]):04X}, which no text may hold"
    return None


def shown(value: object) -> str:
    """A value as a finding quotes it: short, and without control characters."""
    text = str(value)
    if len(text) > _SHOWN:
        text = f"{text[:_SHOWN]}… ({len(text):,} characters)"
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)
