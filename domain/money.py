"""Money: a Decimal amount in an ISO 4217 currency, and the one rounding rule of the ledger.

Rounding rule (documented in docs/money.md): every monetary amount that lands on a document is
rounded ROUND_HALF_UP to its currency's minor units:

    line net = round(quantity x unit price)

and the tax by the seller's tax rounding mode (``TaxRounding``, recorded on each invoice):

    per_line          line tax = round(line net x rate / 100); tax = sum of line taxes
                      (Xero's own rule, "tax per line, then sum")
    per_invoice_rate  tax at a rate = round(sum of the nets at that rate x rate / 100);
                      tax = sum over the rates (EU VAT Directive, Article 226(10): the VAT
                      amount payable per rate)

Quantities and unit prices keep their own precision (telecom rates such as 0.0123/min).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation
from typing import Literal

from domain.currencies import MINOR_UNITS
from domain.errors import CurrencyMismatch, InvalidAmount, OutOfRange, UnknownCurrency

# ASCII digits only: ``\d`` would also take "١٢٣" (Arabic-Indic) or other scripts' digits
_PLAIN_NUMBER = re.compile(r"^[+-]?[0-9]+(\.[0-9]+)?$")
#: Longer number strings are refused unparsed (domain/limits.py: the longest number any limit
#: allows is 25 characters); the message never repeats them.
_MAX_NUMBER_CHARACTERS = 40

#: How tax is rounded on a document (module docstring; docs/money.md).
TaxRounding = Literal["per_line", "per_invoice_rate"]
TAX_ROUNDINGS: tuple[TaxRounding, ...] = ("per_line", "per_invoice_rate")

#: Unit prices and quantities may be more precise than a currency, but not unboundedly so.
MAX_RATE_DECIMALS = 8


def currency_code(code: str) -> str:
    """Return the upper-cased ISO 4217 code, or raise UnknownCurrency (about ``currency``)."""
    if code in MINOR_UNITS:  # already a code (every stored event's): nothing to normalise
        return code
    normalised = code.strip().upper() if isinstance(code, str) else ""
    if normalised not in MINOR_UNITS:
        raise UnknownCurrency(
            f"unknown currency code {code!r} (expected ISO 4217, e.g. GBP)", field="currency"
        )
    return normalised


def minor_units(currency: str) -> int:
    return MINOR_UNITS[currency_code(currency)]


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


def round_to_currency(amount: Decimal, currency: str) -> Decimal:
    """Round half-up to the currency's minor units: the only rounding of money in the ledger."""
    # one exponent per currency, worked out once: every line of every document rounds
    return round_half_up(amount, _EXPONENTS[currency_code(currency)])


def round_half_up(amount: Decimal, exponent: Decimal) -> Decimal:
    """The ledger's one rounding rule, half-up, to ``exponent`` (``Decimal("0.01")``...).

    Money rounds to its currency (``round_to_currency``); a prorated unit price, billed
    minutes and a CDR's charge in micro-units round with the same rule to their own places.
    """
    try:
        return amount.quantize(exponent, rounding=ROUND_HALF_UP)
    except InvalidOperation:
        return _round_wide(amount, exponent)


_EXPONENTS = {code: Decimal(1).scaleb(-units) for code, units in MINOR_UNITS.items()}


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in a currency, always held at the currency's minor units."""

    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, Decimal):
            raise InvalidAmount(f"Money needs a Decimal amount, got {type(self.amount).__name__}")
        code = currency_code(self.currency)
        object.__setattr__(self, "currency", code)
        object.__setattr__(self, "amount", round_to_currency(self.amount, code))

    @classmethod
    def of(cls, value: object, currency: str) -> Money:
        """Build exact money from user input: more decimals than the currency has is an error."""
        amount = parse_decimal(value)
        code = currency_code(currency)
        if round_to_currency(amount, code) != amount:
            raise InvalidAmount(
                f"{value} has more decimals than {code} allows ({minor_units(code)})"
            )
        return cls(amount, code)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(Decimal(0), currency)

    def _same(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyMismatch(f"cannot mix {self.currency} and {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.amount <= other.amount

    def __gt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount > other.amount

    def __ge__(self, other: Money) -> bool:
        self._same(other)
        return self.amount >= other.amount

    @property
    def is_zero(self) -> bool:
        return self.amount == 0

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"


def check_minor_units(
    amount: Decimal, currency: str, *, what: str = "amount", field: str | None = None
) -> Decimal:
    """Money that moves (payments, allocations, refunds) must be exact in its currency."""
    if round_to_currency(amount, currency) != amount:
        raise InvalidAmount(
            f"{what} {amount} has more decimals than {currency} allows ({minor_units(currency)})",
            field=field,
        )
    return amount


# Products of quantities and prices within the limits (domain/limits.py) have at most ~41
# digits: worked out exactly here, then rounded once. The default 28-digit context would round
# a long product before the half-up rounding to the currency (double rounding).
_EXACT = Context(prec=60)


def line_net(quantity: Decimal, unit_price: Decimal, currency: str) -> Decimal:
    """Line net = quantity x unit price, rounded half-up to the currency."""
    return round_to_currency(_EXACT.multiply(quantity, unit_price), currency)


def line_tax(net: Decimal, rate_percent: Decimal, currency: str) -> Decimal:
    """Line tax = net x rate / 100, rounded half-up to the currency."""
    tax = round_to_currency(_EXACT.multiply(net, rate_percent).scaleb(-2), currency)
    # a discount at 0% would otherwise carry a tax of "-0.00" onto documents and exports
    return tax if tax else abs(tax)


def percent_of(amount: Decimal, percent: Decimal, currency: str) -> Decimal:
    """``percent`` % of ``amount``, rounded half-up to the currency (a percentage discount)."""
    return line_tax(amount, percent, currency)


def share_of(amount: Decimal, part: Decimal, whole: Decimal, currency: str) -> Decimal:
    """``amount x part / whole``, rounded half-up to the currency (a discount's share of a
    tax rate); the quotient is worked out to 60 digits before the one rounding."""
    return round_to_currency(_EXACT.divide(_EXACT.multiply(amount, part), whole), currency)


def check_precision(
    value: Decimal, *, what: str, places: int = MAX_RATE_DECIMALS, field: str | None = None
) -> Decimal:
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > places:
        raise InvalidAmount(f"{what} {value} has more than {places} decimal places", field=field)
    return value


def _round_wide(amount: Decimal, exponent: Decimal) -> Decimal:
    """``round_half_up`` of an amount with more digits than the default context's 28.
    Only events stored before the limits (docs/money.md) hold such amounts; reading them must
    still work, so every read shows what the store holds instead of failing."""
    from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Context  # only on this rare path

    wide = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)
    return amount.quantize(exponent, rounding=ROUND_HALF_UP, context=wide)
