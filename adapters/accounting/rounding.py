"""What each accounting system computes from the lines we send, so differences are reported.

Xero (line amounts exclusive of tax, ``unitdp=4``): unit amount and quantity are kept to 4
decimals, line amount = round(quantity x unit amount, 2), tax = round(line amount x rate, 2)
per line, then summed. The ledger rounds per line too but keeps unit prices to 8 decimals, so a
telecom rate like 0.012345/min can land a cent or more away: that difference is reported.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from adapters.accounting import documents as docs
from domain.money import round_to_currency


def _to_places(value: Decimal, places: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


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
