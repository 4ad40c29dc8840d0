"""Decimal numbers as text: the one rule for reading a number a user or a file gives, and how a
column of unit prices is printed. (Apart from domain/money.py, which re-exports them, so that
printing a document imports neither ``Money`` nor the rounding tables.)"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from decimal import Decimal, InvalidOperation

from domain.currencies import minor_units
from domain.errors import InvalidAmount, OutOfRange

# ASCII digits only: ``\d`` would also take "١٢٣" (Arabic-Indic) or other scripts' digits
_PLAIN_NUMBER = re.compile(r"^[+-]?[0-9]+(\.[0-9]+)?$")
#: Longer number strings are refused unparsed (domain/limits.py: the longest number any limit
#: allows is 25 characters); the message never repeats them.
_MAX_NUMBER_CHARACTERS = 40

#: Unit prices and quantities may be more precise than a currency, but not unboundedly so.
MAX_RATE_DECIMALS = 8


def parse_decimal(value: object, *, what: str = "amount", field: str | None = None) -> Decimal:
    """Parse a plain decimal number; reject floats, exponents, commas, NaN and infinities.

    Floats are refused because their binary value is not the number the user typed.
    """
    if isinstance(value, (bool, float)):
        raise InvalidAmount(f"{what} must be a decimal string, not a float: {value!r}", field=field)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise InvalidAmount(f"{what} must be a finite number: {value!r}", field=field)
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, str) and len(value.strip()) > _MAX_NUMBER_CHARACTERS:
        raise OutOfRange(
            f"{what} has {len(value.strip()):,} characters: a number has at most"
            f" {_MAX_NUMBER_CHARACTERS}",
            field=field,
        )
    if not isinstance(value, str) or not _PLAIN_NUMBER.match(value.strip()):
        raise InvalidAmount(
            f"{what} must be a plain decimal number like 12.50 (no commas, exponents or NaN):"
            f" {value!r}",
            field=field,
        )
    try:
        return Decimal(value.strip())
    except InvalidOperation:  # pragma: no cover - the regex already guarantees a number
        raise InvalidAmount(f"{what} is not a number: {value!r}", field=field) from None


def price_places(values: Iterable[Decimal], currency: str) -> int:
    """The decimals a column of unit prices shares: as many as its most precise price needs,
    never fewer than the currency's minor units nor more than a price may carry
    (``MAX_RATE_DECIMALS``); so 120, 0.0123 and 0.012345 in GBP print as 120.000000,
    0.012300 and 0.012345. A display rule only: the stored prices keep their own digits."""
    places = minor_units(currency)
    for value in values:
        exponent = value.normalize().as_tuple().exponent
        if isinstance(exponent, int) and -exponent > places:
            places = -exponent
    return min(places, max(MAX_RATE_DECIMALS, minor_units(currency)))


def price_column(values: Sequence[Decimal], currency: str) -> list[str]:
    """``values`` as one column prints them: each with the column's ``price_places``."""
    places = price_places(values, currency)
    return [format(value, f",.{places}f") for value in values]
