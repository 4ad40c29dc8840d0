"""The outer bounds of dates and log positions arriving over HTTP (API and portal).

Amounts and day counts have none here: the ledger's own limits (domain/limits.py,
docs/money.md) refuse them in the same words on every surface. Dates are bounded here as
well because read-side queries (``?as_of=``, ``?from=``) never reach a command.
"""

from __future__ import annotations

import re
from datetime import date

#: Years a date may fall in.
MIN_YEAR, MAX_YEAR = 1000, 2999
#: Positions in the event log and aggregate versions: 64-bit integers in both stores.
MAX_POSITION = 2**63 - 1

# ASCII digits only: Python's int also reads Arabic-Indic or superscript digits
WHOLE_NUMBER = re.compile(r"-?[0-9]{1,18}")


class OutOfBounds(ValueError):
    """A value no arithmetic of the ledger could carry; the message says which bound."""


def day_in_range(day: date) -> date:
    if not MIN_YEAR <= day.year <= MAX_YEAR:
        raise OutOfBounds(f"the year must be between {MIN_YEAR} and {MAX_YEAR}, not {day.year}")
    return day
