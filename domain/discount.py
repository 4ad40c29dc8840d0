"""Discounts: lines that follow a rule over the invoice's other lines (docs/money.md).

A discount is a percentage of, or an amount off, one line or the invoice's net. It is held as
ordinary invoice lines of kind ``discount`` (quantity 1, a negative unit price), so totals,
documents, projections and exports read it as they read any line; each such line carries its
rule (``InvoiceLine.discount``), and whenever the draft's other lines change the discount
lines are worked out again from their rules (``discount_lines``).

- A discount of a line takes the line's tax rate: it reduces the taxable amount at that rate.
- A discount of the invoice is spread over the tax rates in proportion to each rate's net
  (after the lines' own discounts): one line per rate.
  A percentage gives each rate ``round(net at the rate x percent / 100)``. An amount gives
  each rate but the one with the largest net ``round(amount x net at the rate / net)``, and
  that one the rest, so the lines add up to the amount exactly.
- An amount is never more than what it discounts; a percentage is at most 100. Invoice
  discounts apply in the order they were added, each to what the ones before it left.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from uuid import UUID, uuid5

from domain import limits
from domain.errors import InvalidInput, OutOfRange
from domain.invoice_line import Discount, InvoiceLine
from domain.money import check_precision, percent_of, share_of

#: Discount rules on one invoice: each is a line or a few (one per tax rate).
MAX_DISCOUNTS = 100
#: Characters of a discounted line's description repeated in its discount's description.
_QUOTED = 60


def check_discount(rule: Discount, currency: str) -> None:
    """A rule within the limits: exactly one of a percentage (0 < p <= 100, at most 4
    decimals) or an amount (> 0, exact in the currency, below the money bound)."""
    if (rule.percent is None) == (rule.amount is None):
        raise InvalidInput("a discount needs exactly one of a percentage or an amount")
    if rule.percent is not None:
        if not Decimal(0) < rule.percent <= 100:
            raise OutOfRange(
                f"a discount percentage must be above 0 and at most 100, got"
                f" {limits.shown(rule.percent)}",
                field="percent",
            )
        check_precision(rule.percent, what="discount percentage", places=4, field="percent")
    if rule.amount is not None:
        if rule.amount <= 0:
            raise InvalidInput(
                f"a discount amount must be greater than zero, got {limits.shown(rule.amount)}",
                field="amount",
            )
        limits.check_money(rule.amount, currency, what="discount amount", field="amount")
    limits.check_text(rule.description, limits.LINE_DESCRIPTION, field="description")


def rules_of(lines: Iterable[InvoiceLine]) -> list[Discount]:
    """The discount rules of an invoice, in the order their first lines stand."""
    rules: dict[UUID, Discount] = {}
    for line in lines:
        if line.discount is not None:
            rules.setdefault(line.discount.discount_id, line.discount)
    return list(rules.values())


def discount_lines(
    charges: Sequence[InvoiceLine], rules: Sequence[Discount], currency: str
) -> list[InvoiceLine]:
    """The discount lines ``rules`` give over ``charges`` (the invoice's other lines).

    Raises InvalidInput when a rule names a line that is not among the charges, or an amount
    is more than what it discounts."""
    by_id = {line.line_id: line for line in charges}
    lines: list[InvoiceLine] = []
    for rule in (r for r in rules if r.applies_to is not None):
        target = by_id.get(rule.applies_to)  # type: ignore[arg-type]
        if target is None:
            raise InvalidInput(
                f"a discount applies to line {rule.applies_to}, which is not a charge of this"
                " invoice",
                field="line",
            )
        base = target.net(currency)
        off = _off(rule, base, currency, f"line {_quoted(target.description)!r}")
        lines.append(_line(rule, off, target, "line", _text(rule, currency, target.description)))
    nets = _nets_by_rate([*charges, *lines], currency)
    for rule in (r for r in rules if r.applies_to is None):
        shares = _spread(rule, nets, currency)
        several = len(shares) > 1
        for rate, off in shares.items():
            sample = nets[rate][1]
            text = _text(rule, currency, None)
            if several:
                text += f" (tax {rate}%)"
            lines.append(_line(rule, off, sample, f"rate:{rate}", text))
            nets[rate] = (nets[rate][0] - off, sample)
    return lines


def _off(rule: Discount, base: Decimal, currency: str, what: str) -> Decimal:
    if rule.percent is not None:
        return percent_of(base, rule.percent, currency)
    assert rule.amount is not None
    if rule.amount > base:
        raise OutOfRange(
            f"a discount of {rule.amount} {currency} is more than the {base} {currency} of"
            f" {what} it discounts",
            field="amount",
        )
    return rule.amount


def _nets_by_rate(
    lines: Iterable[InvoiceLine], currency: str
) -> dict[str, tuple[Decimal, InvoiceLine]]:
    """Net per tax rate (rate text -> (net, the rate's first line, for its tax terms))."""
    nets: dict[str, tuple[Decimal, InvoiceLine]] = {}
    for line in lines:
        key = format(line.tax_rate.normalize(), "f")
        net, first = nets.get(key, (Decimal(0), line))
        nets[key] = (net + line.net(currency), first)
    return nets


def _spread(
    rule: Discount, nets: dict[str, tuple[Decimal, InvoiceLine]], currency: str
) -> dict[str, Decimal]:
    """An invoice discount's share of each tax rate (rates with a positive net only)."""
    positive = {rate: net for rate, (net, _) in nets.items() if net > 0}
    if rule.percent is not None:
        return {rate: _off(rule, net, currency, "") for rate, net in positive.items()}
    total = sum(positive.values(), Decimal(0))
    amount = _off(rule, total, currency, "the invoice's net")
    if not positive:
        return {}
    # the largest net takes the rest (ties: the lowest rate), so the shares sum exactly
    order = sorted(positive, key=lambda rate: (-positive[rate], Decimal(rate)))
    shares = {rate: share_of(amount, positive[rate], total, currency) for rate in order[1:]}
    shares[order[0]] = amount - sum(shares.values(), Decimal(0))
    return {rate: shares[rate] for rate in positive}


def _line(rule: Discount, off: Decimal, like: InvoiceLine, key: str, text: str) -> InvoiceLine:
    return InvoiceLine(
        line_id=discount_line_id(rule.discount_id, key),
        description=text,
        quantity=Decimal(1),
        unit_price=-off,
        tax_rate=like.tax_rate,
        tax_description=like.tax_description,
        period_start=like.period_start,
        period_end=like.period_end,
        kind="discount",
        discount=rule,
    )


def discount_line_id(discount_id: UUID, key: str) -> UUID:
    """A discount line's id: the rule's id and what it discounts (a line, or a tax rate)."""
    return uuid5(discount_id, key)


def _text(rule: Discount, currency: str, target: str | None) -> str:
    if rule.description.strip():
        return rule.description
    if rule.percent is not None:
        size = f"{format(rule.percent.normalize(), 'f')}%"
    else:
        size = f"{rule.amount} {currency}"
    return f"Discount {size}" + (f" on {_quoted(target)}" if target else "")


def _quoted(text: str) -> str:
    first = text.splitlines()[0] if text.strip() else text
    return first if len(first) <= _QUOTED else first[: _QUOTED - 1] + "…"
