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

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation
from typing import Literal

# re-exported: the rules for codes and for numbers as text live apart from ``Money`` so that a
# command printing a document imports neither this module's dataclass nor its tables
from domain.currencies import MINOR_UNITS
from domain.currencies import currency_code as currency_code
from domain.currencies import minor_units as minor_units
from domain.decimal_text import MAX_RATE_DECIMALS as MAX_RATE_DECIMALS
from domain.decimal_text import parse_decimal as parse_decimal
from domain.decimal_text import price_column as price_column
from domain.decimal_text import price_places as price_places
from domain.errors import CurrencyMismatch, InvalidAmount

#: How tax is rounded on a document (module docstring; docs/money.md).
TaxRounding = Literal["per_line", "per_invoice_rate"]
TAX_ROUNDINGS: tuple[TaxRounding, ...] = ("per_line", "per_invoice_rate")


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
    return net_to(quantity, unit_price, currency_exponent(currency))


def line_tax(net: Decimal, rate_percent: Decimal, currency: str) -> Decimal:
    """Line tax = net x rate / 100, rounded half-up to the currency."""
    return tax_to(net, rate_percent, currency_exponent(currency))


def currency_exponent(currency: str) -> Decimal:
    """What amounts in ``currency`` round to: ``Decimal("0.01")`` for GBP."""
    return _EXPONENTS[currency_code(currency)]


def net_to(quantity: Decimal, unit_price: Decimal, exponent: Decimal) -> Decimal:
    """``line_net`` with the currency's ``currency_exponent`` looked up once by the caller
    (a document's lines share it: the look-up was a third of the work)."""
    return round_half_up(_EXACT.multiply(quantity, unit_price), exponent)


def tax_to(net: Decimal, rate_percent: Decimal, exponent: Decimal) -> Decimal:
    """``line_tax`` with the currency's ``currency_exponent`` looked up by the caller."""
    tax = round_half_up(_EXACT.multiply(net, rate_percent).scaleb(-2), exponent)
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
