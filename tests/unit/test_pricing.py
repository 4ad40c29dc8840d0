"""Tiered prices and usage quantities, pure (domain/pricing.py, domain/usage.py)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from domain.money import line_net
from domain.pricing import parse_price, price_text, tier_charges, tiered_amount
from domain.usage import usage_quantity

TIERS = "0-1000:0.0100,1000-5000:0.0080,5000-:0.0060"


def test_a_tiered_price_reads_back_in_the_form_it_was_written() -> None:
    text = "UK Mobile=graduated:0-1000:0.0100,1000-5000.5:0.008,5000.5-:0"
    assert price_text(parse_price(text)) == text


@pytest.mark.parametrize(
    ("minutes", "graduated", "volume"),
    [
        ("0", [], [("0", "0.0100")]),
        ("999.99", [("999.99", "0.0100")], [("999.99", "0.0100")]),
        ("1000", [("1000", "0.0100")], [("1000", "0.0100")]),  # a bound ends its tier
        ("1000.01", [("1000", "0.0100"), ("0.01", "0.0080")], [("1000.01", "0.0080")]),
        (
            "7000",
            [("1000", "0.0100"), ("4000", "0.0080"), ("2000", "0.0060")],
            [("7000", "0.0060")],
        ),
    ],
)
def test_graduated_splits_the_minutes_and_volume_prices_them_all_at_the_reached_tier(
    minutes: str, graduated: list[tuple[str, str]], volume: list[tuple[str, str]]
) -> None:
    for mode, expected in (("graduated", graduated), ("volume", volume)):
        charges = tier_charges(parse_price(f"X={mode}:{TIERS}"), D(minutes))
        assert [(c.minutes, c.tier.rate) for c in charges] == [(D(m), D(r)) for m, r in expected], (
            mode
        )


def test_the_tiered_amount_is_the_sum_of_its_rounded_lines() -> None:
    price = parse_price("X=graduated:0-0.5:0.011,0.5-:0.011")
    # one tier would be round(1 x 0.011) = 0.01; two lines are 0.01 (0.0055) + 0.01
    assert tiered_amount(price, D(1), "GBP") == D("0.02")


@pytest.mark.parametrize(
    ("seconds", "charge", "expected"),
    [
        (300, "0.0615", (D("5.00"), D("0.0123"), "min")),  # the "5.00 min | 0.0615"
        (185, "0.03795", (D("3.08"), D("0.01232143"), "min")),
        (60, "0", (D("1.00"), D("0"), "min")),
        (0, "0.0100", (D(1), D("0.0100"), "")),  # a fee on a 0-second call: no minutes
        # 10^9 min: no 8-decimal rate hits the cent; 1 x the charge, as before
        (60_000_000_000, "123456.789012", (D(1), D("123456.789012"), "")),
    ],
)
def test_a_usage_line_is_minutes_times_the_average_rate_and_keeps_the_summed_charge(
    seconds: int, charge: str, expected: tuple[D, D, str]
) -> None:
    quantity, price, unit = usage_quantity(seconds, D(charge), "GBP")
    assert (quantity, price, unit) == expected
    assert line_net(quantity, price, "GBP") == line_net(D(1), D(charge), "GBP")
