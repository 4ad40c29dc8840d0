"""How numbers and dates read on a printed document.

Amounts show exactly the currency's minor units (JPY 0, GBP 2, BHD 3) with thousands
separators; quantities and unit prices keep the precision they were billed at. Month names come
from a fixed table, not ``strftime``, so the bytes of a PDF never depend on the machine's locale.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from domain.money import minor_units, price_places, round_to_currency

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def amount(value: Decimal, currency: str) -> str:
    """``1234.5`` GBP -> ``1,234.50``; always the currency's own number of decimals."""
    places = minor_units(currency)
    return format(round_to_currency(value, currency), f",.{places}f")


def quantity(value: Decimal, unit: str = "") -> str:
    """``5321.500`` -> ``5,321.5``; trailing zeros carry no meaning for a quantity."""
    text = format(value.normalize(), ",f")
    return f"{text} {unit}" if unit else text


def unit_price(value: Decimal, currency: str, places: int | None = None) -> str:
    """With ``places`` decimals (a column's, see ``price_places``); without, at least the
    currency's decimals, more when the rate has them (``0.0123``)."""
    if places is None:
        places = price_places([value], currency)
    return format(value, f",.{places}f")


def rate(value: Decimal) -> str:
    """A tax rate in percent: ``20`` -> ``20%``, ``7.50`` -> ``7.5%``."""
    return f"{format(value.normalize(), 'f')}%"


def day(value: date) -> str:
    """``2026-10-01`` -> ``1 Oct 2026``."""
    return f"{value.day} {_MONTHS[value.month - 1]} {value.year}"


def period(start: date | None, end: date | None) -> str:
    """A date range as short as it can be without losing anything."""
    if start is None and end is None:
        return ""
    if start is None:
        assert end is not None
        return f"until {day(end)}"
    if end is None:
        return f"from {day(start)}"
    if start == end:
        return day(start)
    if (start.year, start.month) == (end.year, end.month):
        return f"{start.day}–{end.day} {_MONTHS[end.month - 1]} {end.year}"
    if start.year == end.year:
        return f"{start.day} {_MONTHS[start.month - 1]} – {day(end)}"
    return f"{day(start)} – {day(end)}"
