"""Money: Decimal + ISO currency, one explicit rounding rule, no floats, no silent mixing."""

from __future__ import annotations

import json
from decimal import Decimal as D
from uuid import uuid4

import pytest

from domain.errors import CurrencyMismatch, InvalidAmount, UnknownCurrency
from domain.invoice_line import InvoiceLine
from domain.money import Money, line_net, line_tax, parse_decimal, round_to_currency


def test_rounding_is_half_up_at_the_currency_minor_units():
    assert round_to_currency(D("2.345"), "GBP") == D("2.35")
    assert round_to_currency(D("2.5"), "JPY") == D("3")  # banker's rounding would give 2
    assert round_to_currency(D("1.0005"), "BHD") == D("1.001")
    assert round_to_currency(D("-2.345"), "EUR") == D("-2.35")


def test_line_net_and_tax_round_per_line_like_xero():
    net = line_net(D("1234.5"), D("0.0123"), "GBP")  # 15.18435
    assert net == D("15.18")
    assert line_tax(net, D("20"), "GBP") == D("3.04")  # 3.036
    assert line_tax(D("0.05"), D("10"), "GBP") == D("0.01")  # 0.005 rounds up


def test_a_negative_line_without_tax_has_a_tax_of_zero_not_minus_zero():
    # a discount at 0% (or -0.004 at 1%) printed "-0.00" on invoices and in --json
    assert str(line_tax(D("-3.00"), D("0"), "GBP")) == "0.00"
    assert str(line_tax(D("-0.40"), D("1"), "GBP")) == "0.00"
    assert str(line_tax(D("-0.50"), D("1"), "GBP")) == "-0.01"  # half away from zero


@pytest.mark.parametrize("text", ["12,50", "1e3", "NaN", "Infinity", "", "12.5.0", "abc", " "])
def test_amounts_in_any_other_shape_than_plain_decimals_are_refused(text):
    with pytest.raises(InvalidAmount):
        parse_decimal(text)


def test_floats_are_refused_even_when_they_look_harmless():
    with pytest.raises(InvalidAmount, match="float"):
        parse_decimal(0.1)
    with pytest.raises(InvalidAmount):
        Money(0.1, "GBP")  # type: ignore[arg-type]


def test_money_from_user_input_refuses_more_decimals_than_the_currency_has():
    assert Money.of("12.50", "gbp") == Money(D("12.5"), "GBP")
    with pytest.raises(InvalidAmount, match="more decimals"):
        Money.of("12.505", "GBP")
    with pytest.raises(InvalidAmount):
        Money.of("1.5", "JPY")


def test_mixing_currencies_raises_instead_of_adding():
    with pytest.raises(CurrencyMismatch):
        _ = Money.of("1", "GBP") + Money.of("1", "EUR")
    with pytest.raises(CurrencyMismatch):
        _ = Money.of("1", "GBP") < Money.of("1", "EUR")


def test_unknown_currency_codes_are_refused():
    with pytest.raises(UnknownCurrency):
        Money.of("1", "XYZ")
    with pytest.raises(UnknownCurrency):
        Money.of("1", "pound")


def test_money_arithmetic_stays_in_minor_units():
    total = Money.of("0.10", "USD") + Money.of("0.20", "USD")
    assert total == Money.of("0.30", "USD")
    assert str(total - Money.of("0.05", "USD")) == "0.25 USD"
    assert (-total).amount == D("-0.30")


@pytest.mark.parametrize(
    "text", ["0", "-0", "1.50", "0.000001", "1E+2", "-3.14", "120.645161", "1.5E-10", "0E-8"]
)
def test_amounts_in_stored_events_and_json_documents_are_the_decimal_string(text):
    line = InvoiceLine(
        line_id=uuid4(), description="x", quantity=D(1), unit_price=D(text), tax_rate=D(20)
    )
    assert line.model_dump(mode="json")["unit_price"] == str(D(text))
    assert json.loads(line.model_dump_json())["unit_price"] == str(D(text))
    assert line.model_dump()["unit_price"] == D(text)  # Python mode keeps the Decimal


@pytest.mark.parametrize("value", [D("NaN"), D("sNaN"), D("Infinity"), D("-Infinity")])
def test_amounts_that_are_not_finite_numbers_are_refused_in_code_and_in_stored_json(value):
    fields = {"line_id": str(uuid4()), "description": "x", "quantity": "1", "tax_rate": "20"}
    with pytest.raises(ValueError, match="finite number"):
        InvoiceLine(**{**fields, "unit_price": value})
    with pytest.raises(ValueError, match="finite number"):
        InvoiceLine.model_validate_json(json.dumps({**fields, "unit_price": str(value)}))
