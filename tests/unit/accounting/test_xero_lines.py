"""Xero lines are built so Xero's own arithmetic gives the ledger's figures to the penny."""

from __future__ import annotations

from decimal import ROUND_HALF_UP
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.accounting import documents as docs
from adapters.accounting.errors import RemoteRejected
from adapters.accounting.rounding import xero_line, xero_reproduces, xero_total
from domain.money import line_net, line_tax


def _cut(value: D, places: int) -> D:
    return value.quantize(D(1).scaleb(-places), rounding=ROUND_HALF_UP)


def _xero_books(quantity: D, unit_amount: D, tax_amount: D) -> D:
    """Xero's documented arithmetic for one line sent with unitdp=4 and an explicit tax."""
    return _cut(_cut(quantity, 4) * _cut(unit_amount, 4), 2) + tax_amount


def _line(quantity: D, price: D, rate: D, currency: str = "GBP") -> docs.Line:
    net = line_net(quantity, price, currency)
    return docs.Line(
        "Calls", quantity, price, rate, f"VAT {rate}%", "usage", net, line_tax(net, rate, currency)
    )


quantities = st.decimals(min_value=D("0.0001"), max_value=D("250000"), places=4) | st.decimals(
    min_value=D("0.00000001"), max_value=D("5000"), places=8
)
prices = st.integers(min_value=4, max_value=6).flatmap(
    lambda places: st.decimals(min_value=D("0.000001"), max_value=D("99"), places=places)
)
rates = st.sampled_from([D("20"), D("5")])


@settings(max_examples=600, deadline=None)
@given(st.lists(st.tuples(quantities, prices, rates), min_size=1, max_size=6))
def test_xero_computes_every_line_and_the_total_exactly_as_the_ledger(specs):
    lines = [_line(q, p, r) for q, p, r in specs]
    sent = [xero_line(line, "GBP") for line in lines]

    for line, x in zip(lines, sent, strict=True):
        assert _cut(_cut(x.quantity, 4) * _cut(x.unit_amount, 4), 2) == line.net
        assert x.tax_amount == line.tax == _cut(line.net * line.tax_rate / 100, 2)
        assert x.quantity == _cut(x.quantity, 4) and x.unit_amount == _cut(x.unit_amount, 4)
    ledger_total = sum((line.net + line.tax for line in lines), D(0))
    assert sum((_xero_books(x.quantity, x.unit_amount, x.tax_amount) for x in sent), D(0)) == (
        ledger_total
    )
    assert xero_total(sent) == ledger_total


def test_a_price_finer_than_4dp_goes_as_one_times_the_net_with_the_rate_in_the_text():
    line = _line(D("1234.5"), D("0.012345"), D("20"))

    sent = xero_line(line, "GBP")

    assert (sent.quantity, sent.unit_amount, sent.tax_amount) == (D(1), D("15.24"), D("3.05"))
    assert sent.description == "Calls (1234.5 × 0.012345)" and not sent.as_priced


def test_a_price_xero_can_hold_goes_as_priced():
    line = _line(D("1234.5"), D("0.0123"), D("20"))

    sent = xero_line(line, "GBP")

    assert (sent.quantity, sent.unit_amount, sent.description) == (
        D("1234.5"),
        D("0.0123"),
        "Calls",
    )
    assert sent.as_priced and sent.tax_amount == D("3.04")


@pytest.mark.parametrize(
    ("quantity", "price", "net", "expected"),
    [
        (D("3"), D("0.0015"), D("0.00"), True),  # 0.0045 rounds to 0.00 either way
        (D("1"), D("0.005"), D("0.01"), False),  # exactly half a cent: the tie rule is unknown
        (D("2"), D("1.25"), D("2.50"), True),
        (D("0.00001"), D("1"), D("0.00"), False),  # quantity finer than 4 dp
        (D("-1"), D("0.005"), D("-0.01"), False),  # a negative tie too
    ],
)
def test_when_xero_reproduces_the_ledger_net(quantity, price, net, expected):
    assert xero_reproduces(quantity, price, net) is expected


def test_an_amount_xero_cannot_hold_is_refused_before_anything_is_sent():
    line = _line(D("1"), D("1.234"), D("0"), currency="BHD")

    with pytest.raises(RemoteRejected, match="2 decimals"):
        xero_line(line, "BHD")
