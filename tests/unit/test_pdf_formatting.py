"""How amounts, quantities, rates and dates read on a PDF."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

from adapters.pdf import formatting as fmt


def test_amounts_carry_exactly_the_currency_decimals_with_thousands_separators():
    assert fmt.amount(D("1234.5"), "GBP") == "1,234.50"
    assert fmt.amount(D("1234567"), "JPY") == "1,234,567"
    assert fmt.amount(D("12.3456"), "BHD") == "12.346"
    assert fmt.amount(D("-20"), "EUR") == "-20.00"


def test_quantities_drop_meaningless_zeros_and_show_their_unit():
    assert fmt.quantity(D("5321.500"), "min") == "5,321.5 min"
    assert fmt.quantity(D("10")) == "10"
    assert fmt.quantity(D("1E+1")) == "10"


def test_unit_prices_keep_rate_precision_but_never_fewer_than_the_currency_decimals():
    assert fmt.unit_price(D("0.0123"), "GBP") == "0.0123"
    assert fmt.unit_price(D("120"), "GBP") == "120.00"
    assert fmt.unit_price(D("3.5"), "JPY") == "3.5"
    assert fmt.unit_price(D("1200"), "JPY") == "1,200"


def test_rates_and_dates_read_the_same_on_every_machine():
    assert fmt.rate(D("20.00")) == "20%"
    assert fmt.rate(D("7.5")) == "7.5%"
    assert fmt.day(date(2026, 10, 1)) == "1 Oct 2026"


def test_periods_are_as_short_as_they_can_be_without_losing_anything():
    assert fmt.period(date(2026, 10, 1), date(2026, 10, 31)) == "1–31 Oct 2026"
    assert fmt.period(date(2026, 10, 15), date(2026, 11, 14)) == "15 Oct – 14 Nov 2026"
    assert fmt.period(date(2026, 12, 15), date(2027, 1, 14)) == "15 Dec 2026 – 14 Jan 2027"
    assert fmt.period(date(2026, 10, 3), date(2026, 10, 3)) == "3 Oct 2026"
    assert fmt.period(None, None) == ""
    assert fmt.period(date(2026, 10, 1), None) == "from 1 Oct 2026"
