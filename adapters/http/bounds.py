"""The outer bounds of values arriving over HTTP (API bodies and queries, portal forms).

They keep arithmetic on a value possible, whatever the ledger's own limits: beyond them sums
and products of amounts no longer fit the 28 significant digits of decimal arithmetic, and
due dates computed by adding days run off the calendar. The ledger's limits are narrower and
give their own message (docs/money.md); these only stop what could never be one.
"""

from __future__ import annotations

import re
from datetime import date

#: Digits an amount may have before and after the decimal point.
MAX_WHOLE_DIGITS = 18
MAX_FRACTION_DIGITS = 12
#: Years a date may fall in.
MIN_YEAR, MAX_YEAR = 1000, 2999
#: Day counts (payment terms): a century.
MAX_DAYS = 36_500
#: Positions in the event log and aggregate versions: 64-bit integers in both stores.
MAX_POSITION = 2**63 - 1

# ASCII digits only: Python's Decimal and int also read Arabic-Indic or superscript digits
PLAIN_NUMBER = re.compile(r"-?([0-9]+)(?:\.([0-9]+))?")
WHOLE_NUMBER = re.compile(r"-?[0-9]{1,18}")


class OutOfBounds(ValueError):
    """A value no arithmetic of the ledger could carry; the message says which bound."""


def amount_text(text: str) -> str:
    """``text`` when it is a plain decimal number within the digit bounds."""
    match = PLAIN_NUMBER.fullmatch(text)
    if match is None:
        raise OutOfBounds(f"not a plain decimal number like 12.50: {text[:40]!r}")
    whole, fraction = match.group(1).lstrip("0"), match.group(2) or ""
    if len(whole) > MAX_WHOLE_DIGITS or len(fraction) > MAX_FRACTION_DIGITS:
        raise OutOfBounds(
            f"amounts have at most {MAX_WHOLE_DIGITS} digits before the decimal point and"
            f" {MAX_FRACTION_DIGITS} after"
        )
    return text


def day_in_range(day: date) -> date:
    if not MIN_YEAR <= day.year <= MAX_YEAR:
        raise OutOfBounds(f"the year must be between {MIN_YEAR} and {MAX_YEAR}, not {day.year}")
    return day


def days(count: int) -> int:
    if count > MAX_DAYS:
        raise OutOfBounds(f"at most {MAX_DAYS} days, not {count}")
    return count
