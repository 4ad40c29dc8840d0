"""Small value types shared by several aggregates."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict

from domain.errors import InvalidInput
from domain.limits import TIME_ZONE, check_date, check_tax_rate, check_text, shown
from domain.money import currency_code, parse_decimal

LineGrouping = Literal["none", "destination", "day"]
LINE_GROUPINGS: tuple[LineGrouping, ...] = ("none", "destination", "day")


def _no_float(value: object) -> Decimal:
    return parse_decimal(value)


# A finite Decimal; in JSON the string ``str(d)``, exactly: pydantic's own way with Decimals
# (tests/unit/test_money.py pins it). A serializer of ours saying the same cost a call into
# Python per amount: ~75,000 per 1,000-invoice billing run. Finite without a validator of
# ours: pydantic refuses NaN and infinities in a Decimal field by default (pinned there
# too); the check in Python we had cost 0.4 us per amount decoded from stored events.
Dec = Decimal

CurrencyCode = Annotated[str, AfterValidator(currency_code)]


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class Threshold(Frozen):
    """An amount of money in a currency, as a setting (a customer's low prepaid balance
    threshold): the currency travels with it, so a threshold in the wrong currency is
    refused instead of being read in the customer's."""

    amount: Dec
    currency: CurrencyCode


def tax_rate(value: object, *, what: str = "tax rate") -> Decimal:
    """A tax rate in percent, 0 to 100 inclusive, at most 4 decimals (e.g. 20, 7.5)."""
    return check_tax_rate(parse_decimal(value, what=what), what=what)


def time_zone(name: str) -> str:
    # bounded and clean before it becomes a file name under the zoneinfo directories
    check_text(name, TIME_ZONE, field="time_zone")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidInput(
            f"unknown time zone {name!r} (expected an IANA name)", field="time_zone"
        ) from None
    return name


def grouping(value: str) -> LineGrouping:
    for option in LINE_GROUPINGS:
        if value == option:
            return option
    raise InvalidInput(
        f"invoice line grouping must be one of {', '.join(LINE_GROUPINGS)}",
        field="invoice_line_grouping",
    )


def parse_date(value: object, *, what: str = "date", field: str | None = None) -> date:
    from domain.errors import InvalidDate

    if isinstance(value, date):
        return check_date(value, what=what, field=field)
    try:
        day = date.fromisoformat(str(value))
    except ValueError:
        raise InvalidDate(
            f"{what} must be an ISO date like 2026-10-31: {shown(repr(value))}", field=field
        ) from None
    return check_date(day, what=what, field=field)


def non_empty(value: str, *, what: str, field: str | None = None) -> str:
    value = value.strip()
    if not value:
        raise InvalidInput(f"{what} must not be empty", field=field)
    return value


def positive(value: Decimal, *, what: str, field: str | None = None) -> Decimal:
    if value <= 0:
        raise InvalidInput(f"{what} must be greater than zero, got {value}", field=field)
    return value


def non_negative(value: Decimal, *, what: str, field: str | None = None) -> Decimal:
    if value < 0:
        raise InvalidInput(f"{what} must not be negative, got {value}", field=field)
    return value
