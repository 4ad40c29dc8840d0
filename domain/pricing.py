"""Tiered and volume prices per destination, over a billing period (docs/usage-billing.md).

A customer's ``usage_prices`` price the minutes of a destination over the whole period,
instead of the switch's per-call charges:

- ``graduated``: each tier's minutes at that tier's rate (0-1,000 min at 0.0100, the next
  4,000 at 0.0080, ...): one invoice line per tier reached;
- ``volume``: every minute at the rate of the tier the period's total reaches: one line.

Tiers are written ``FROM-TO:RATE`` in minutes, the last open-ended (``5000-:0.0060``); they
start at 0, each starts where the one before it ends (no gap, no overlap), in order.
A line is ``quantity`` (minutes in the tier) x ``rate``, rounded by the ledger's one rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Literal

from domain import limits
from domain.errors import InvalidInput, InvalidTiers, OutOfRange
from domain.money import check_precision, line_net, parse_decimal
from domain.values import Dec, Frozen

PriceMode = Literal["graduated", "volume"]
PRICE_MODES: tuple[PriceMode, ...] = ("graduated", "volume")

#: Destinations one customer prices by tiers, and tiers of one destination.
MAX_PRICED_DESTINATIONS = 100
MAX_TIERS = 20
#: The longest destination name (a CDR's ``destination``: domain/usage.py).
MAX_DESTINATION = 100
#: Tier bounds are minutes to 2 decimals (as the usage lines' quantities).
BOUND_PLACES = 2


class Tier(Frozen):
    """Minutes from ``first`` up to ``last`` (``None``: no end) at ``rate`` per minute."""

    first: Dec
    last: Dec | None = None
    rate: Dec


class TieredPrice(Frozen):
    """How a destination's minutes of a period are priced."""

    destination: str
    mode: PriceMode
    tiers: tuple[Tier, ...]


class TierCharge(Frozen):
    """One line's worth of a tiered price: ``minutes`` at ``tier.rate``."""

    tier: Tier
    minutes: Dec


def check_prices(prices: Sequence[TieredPrice], currency: str) -> None:
    """A customer's tiered prices within the limits: one per destination."""
    limits.check_count(
        len(prices), MAX_PRICED_DESTINATIONS, what="destinations priced by tiers", field="tiers"
    )
    seen: set[str] = set()
    for price in prices:
        check_price(price, currency)
        if price.destination in seen:
            raise InvalidTiers(f"destination {price.destination!r} is priced twice", field="tiers")
        seen.add(price.destination)


def check_price(price: TieredPrice, currency: str) -> None:
    """Tiers that start at 0, follow each other without gap or overlap, end open."""
    if not price.destination.strip():
        raise InvalidInput("a tiered price needs a destination", field="tiers")
    limits.check_text(price.destination, limits.Text("destination", MAX_DESTINATION))
    if price.mode not in PRICE_MODES:
        raise InvalidInput("a tiered price's mode is graduated or volume", field="tiers")
    tiers = price.tiers
    where = f"tiers of {price.destination!r}"
    if not tiers:
        raise InvalidTiers(f"{where}: at least one tier", field="tiers")
    limits.check_count(len(tiers), MAX_TIERS, what="tiers of one destination", field="tiers")
    expected = Decimal(0)
    for number, tier in enumerate(tiers, start=1):
        limits.check_unit_price(tier.rate, currency, what=f"{where}: tier {number}'s rate")
        if tier.first != expected:
            problem = "a gap" if tier.first > expected else "an overlap"
            raise InvalidTiers(
                f"{where}: tier {number} starts at {tier.first} min, not {expected}:"
                f" {problem} (tiers start at 0, each where the one before ends, in order)",
                field="tiers",
            )
        last = tier.last
        if last is None:
            if number != len(tiers):
                raise InvalidTiers(f"{where}: only the last tier is open-ended", field="tiers")
            continue
        check_precision(last, what=f"{where}: a tier bound", places=BOUND_PLACES, field="tiers")
        if last <= tier.first:
            raise InvalidTiers(
                f"{where}: tier {number} ends ({last}) where or before it starts", field="tiers"
            )
        if last > limits.MAX_QUANTITY:
            raise OutOfRange(
                f"{where}: a tier bound is at most {limits.MAX_QUANTITY:,} min", field="tiers"
            )
        expected = last
    if tiers[-1].last is not None:
        raise InvalidTiers(
            f"{where}: the last tier is open-ended (e.g. 5000-:0.006)", field="tiers"
        )


def tier_charges(price: TieredPrice, minutes: Decimal) -> list[TierCharge]:
    """The minutes of each line: graduated, the minutes falling in each tier reached;
    volume, all of them at the tier their total reaches (a bound belongs to the tier it
    ends: 1,000 min of tiers 0-1000, 1000- is the first tier's)."""
    if price.mode == "volume":
        reached = next(t for t in price.tiers if t.last is None or minutes <= t.last)
        return [TierCharge(tier=reached, minutes=minutes)]
    charges = []
    for tier in price.tiers:
        if minutes <= tier.first:
            break
        top = minutes if tier.last is None else min(minutes, tier.last)
        charges.append(TierCharge(tier=tier, minutes=top - tier.first))
    return charges


def tiered_amount(price: TieredPrice, minutes: Decimal, currency: str) -> Decimal:
    """What the tiered price bills for ``minutes``: the sum of its lines, each rounded."""
    return sum(
        (line_net(c.minutes, c.tier.rate, currency) for c in tier_charges(price, minutes)),
        Decimal(0),
    )


def tier_label(tier: Tier) -> str:
    """``0-1,000 min`` (with an en dash) or ``5,000+ min``."""
    first = _minutes(tier.first)
    return f"{first}+ min" if tier.last is None else f"{first}–{_minutes(tier.last)} min"


def _minutes(value: Decimal) -> str:
    return f"{value.normalize():,f}"


def price_text(price: TieredPrice) -> str:
    """The form ``parse_price`` reads: ``UK Mobile=graduated:0-1000:0.01,1000-:0.008``."""
    tiers = ",".join(
        f"{_plain(t.first)}-{'' if t.last is None else _plain(t.last)}:{_plain(t.rate)}"
        for t in price.tiers
    )
    return f"{price.destination}={price.mode}:{tiers}"


def _plain(value: Decimal) -> str:
    return format(value, "f")


def parse_price(text: str) -> TieredPrice:
    """``DESTINATION=MODE:FROM-TO:RATE,FROM-:RATE`` (the CLI's and the portal's form), e.g.
    ``UK Mobile=graduated:0-1000:0.0100,1000-:0.0080``; checked by ``check_price``."""
    if len(text) > 4_000:
        raise OutOfRange("a tiered price is at most 4,000 characters", field="tiers")
    destination, sep, rest = text.rpartition("=")
    mode, sep2, spec = rest.partition(":")
    if not sep or not sep2 or mode.strip() not in PRICE_MODES:
        raise InvalidInput(
            "a tiered price is DESTINATION=graduated|volume:FROM-TO:RATE,...,FROM-:RATE,"
            f" got {limits.shown(text)!r}",
            field="tiers",
        )
    tiers = []
    for part in spec.split(","):
        bounds, sep3, rate = part.strip().partition(":")
        first, sep4, last = bounds.partition("-")
        if not sep3 or not sep4:
            raise InvalidInput(
                f"a tier is FROM-TO:RATE or FROM-:RATE, got {limits.shown(part.strip())!r}",
                field="tiers",
            )
        tiers.append(
            Tier(
                first=parse_decimal(first, what="a tier bound", field="tiers"),
                last=parse_decimal(last, what="a tier bound", field="tiers")
                if last.strip()
                else None,
                rate=parse_decimal(rate, what="a tier rate", field="tiers"),
            )
        )
    return TieredPrice.model_validate(
        {"destination": destination.strip(), "mode": mode.strip(), "tiers": tiers}
    )
