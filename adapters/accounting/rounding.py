"""What each accounting system computes from the lines we send, and how Xero is sent lines it
will total exactly as the ledger does.

Xero (line amounts exclusive of tax, ``unitdp=4``; "Rounding in Xero" and the LineItem schema of
its Accounting API): Quantity and UnitAmount are kept to 4 decimals, LineAmount =
round(Quantity x UnitAmount, 2), TaxAmount is computed per line from the tax rate and rounded to
2 dp unless the request gives it ("This value can be overriden"), and the totals are sums of
the lines. The ledger keeps unit prices to 8 decimals, so a telecom rate like 0.012345/min
cannot be sent as it is: Xero would book 1234.5 x 0.0123. Such a line goes as Xero itself
advises ("1000 x Product A @ $0.061171" with Quantity 1 and UnitAmount 61.17): Quantity 1,
UnitAmount = the ledger's line net, the real quantity and price in the Description. Every line
carries the ledger's own line tax as TaxAmount. The remote total is then the ledger's total.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from adapters.accounting import documents as docs
from adapters.accounting.errors import RemoteRejected
from domain.money import round_to_currency

XERO_UNIT_PLACES = 4
XERO_AMOUNT_PLACES = 2
_CENT = Decimal("0.01")
_HALF_CENT = Decimal("0.005")


def _to_places(value: Decimal, places: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def _places(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def plain(value: Decimal) -> str:
    """A quantity or price as a person writes it: 1234.5, 0.012345, 10."""
    return format(value.normalize(), "f")


def per_line_total(
    lines: tuple[docs.Line, ...], currency: str, *, unit_places: int | None
) -> Decimal:
    """Sum of per-line net and tax, with unit prices/quantities cut to ``unit_places``."""
    total = Decimal(0)
    for line in lines:
        unit = line.unit_price if unit_places is None else _to_places(line.unit_price, unit_places)
        quantity = line.quantity if unit_places is None else _to_places(line.quantity, unit_places)
        net = round_to_currency(quantity * unit, currency)
        total += net + round_to_currency(net * line.tax_rate / Decimal(100), currency)
    return total


@dataclass(frozen=True)
class XeroLine:
    """One line as Xero is sent it: Xero's LineAmount = round(quantity x unit_amount, 2)."""

    description: str
    quantity: Decimal
    unit_amount: Decimal
    tax_amount: Decimal
    as_priced: bool  # False: sent as 1 x the ledger's net, quantity and price in the text


def xero_reproduces(quantity: Decimal, unit_price: Decimal, net: Decimal) -> bool:
    """Whether Xero's own Quantity x UnitAmount (4 dp) rounded to 2 dp gives exactly ``net``.

    A product sitting exactly on a half cent is not trusted to Xero's rounding (its documents
    do not name the tie rule), so it too goes as 1 x net.
    """
    if _places(quantity) > XERO_UNIT_PLACES or _places(unit_price) > XERO_UNIT_PLACES:
        return False
    product = quantity * unit_price
    if abs(product / _HALF_CENT) % 2 == 1:  # an exact half cent: the tie rule would decide
        return False
    return _to_places(product, XERO_AMOUNT_PLACES) == net


def xero_line(line: docs.Line, currency: str) -> XeroLine:
    """The Xero line that totals to the ledger's line net and tax, to the penny."""
    for name, amount in (("net", line.net), ("tax", line.tax)):
        if amount != amount.quantize(_CENT):
            raise RemoteRejected(
                f"Xero keeps amounts to 2 decimals: the line {line.description!r} has a {name}"
                f" of {amount} {currency}, which it cannot hold"
            )
    if xero_reproduces(line.quantity, line.unit_price, line.net):
        return XeroLine(line.description, line.quantity, line.unit_price, line.tax, True)
    text = f"{line.description} ({plain(line.quantity)} × {plain(line.unit_price)})"
    return XeroLine(text, Decimal(1), line.net, line.tax, False)


def xero_total(lines: list[XeroLine]) -> Decimal:
    """The total Xero computes from these lines (tax amounts given, so taken as sent)."""
    return sum(
        (
            _to_places(
                _to_places(x.quantity, XERO_UNIT_PLACES)
                * _to_places(x.unit_amount, XERO_UNIT_PLACES),
                XERO_AMOUNT_PLACES,
            )
            + x.tax_amount
            for x in lines
        ),
        Decimal(0),
    )
