"""A document's totals are its lines' own figures added up: whatever objects hold the lines'
rates, in every currency, and with no line at all."""

from __future__ import annotations

from decimal import Decimal as D
from uuid import NAMESPACE_URL, uuid5

import pytest

from domain.invoice_line import InvoiceLine, rate_key, totals_of
from domain.money import TAX_ROUNDINGS, TaxRounding, line_tax


def _line(n: int, quantity: str, price: str, rate: D) -> InvoiceLine:
    return InvoiceLine(
        line_id=uuid5(NAMESPACE_URL, f"line-{n}"),
        description=f"Line {n}",
        quantity=D(quantity),
        unit_price=D(price),
        tax_rate=rate,
    )


SHARED = D("20")
# rates equal in value written apart (one name, "20"), shared objects and fresh ones, others
LINES = [
    _line(1, "3.5", "1.2345", SHARED),
    _line(2, "7", "0.333", SHARED),
    _line(3, "1", "19.999", D("20.00")),
    _line(4, "2.25", "4.4444", D("20")),
    _line(5, "1", "10.05", D("5")),
    _line(6, "12", "0.0415", D("5.0")),
    _line(7, "1", "99.99", D("0")),
]


def _added_up(lines: list[InvoiceLine], currency: str, rounding: TaxRounding) -> dict[str, object]:
    by_rate: dict[str, tuple[D, D]] = {}
    for line in lines:
        net, tax = line.net(currency), line.tax(currency)
        old_net, old_tax = by_rate.get(rate_key(line.tax_rate), (D(0), D(0)))
        by_rate[rate_key(line.tax_rate)] = (old_net + net, old_tax + tax)
    if rounding == "per_invoice_rate":
        by_rate = {k: (net, line_tax(net, D(k), currency)) for k, (net, _) in by_rate.items()}
    net = sum((n for n, _ in by_rate.values()), D(0))
    tax = sum((t for _, t in by_rate.values()), D(0))
    return {"net": net, "tax": tax, "total": net + tax, "tax_by_rate": by_rate}


@pytest.mark.parametrize("currency", ["GBP", "JPY", "KWD", "gbp"])
@pytest.mark.parametrize("rounding", TAX_ROUNDINGS)
def test_the_totals_add_up_each_lines_figures_by_rate(currency, rounding):
    totals = totals_of(LINES, currency, rounding)
    expected = _added_up(LINES, currency, rounding)
    assert {k: getattr(totals, k) for k in expected} == expected
    assert set(totals.tax_by_rate) == {"20", "5", "0"}


def test_no_line_is_zero_whatever_the_currency():
    totals = totals_of([], "not a currency")
    assert (totals.net, totals.tax, totals.total, totals.tax_by_rate) == (0, 0, 0, {})
