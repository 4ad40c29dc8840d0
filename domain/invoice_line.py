"""Invoice lines and document totals: the one place the tax rounding modes are applied
(domain/money.py states them; docs/money.md shows them worked)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import ROUND_FLOOR, Decimal
from typing import Literal
from uuid import UUID

from domain.money import (
    TaxRounding,
    currency_exponent,
    line_net,
    line_tax,
    minor_units,
    net_to,
    tax_to,
)
from domain.values import Dec, Frozen

LineKind = Literal["manual", "package", "setup", "usage", "discount", "commitment"]


class LineSource(Frozen):
    """Where a generated line came from, so an auditor can recompute it from the usage table.

    Usage lines: the grouping key, the calls and billed seconds they sum, a digest of the
    contributing CDRs, the UTC window and the import batches (after, through] they cover.
    Package lines: the assignment and the days charged out of the days in the period.
    """

    key: str
    calls: int = 0
    billed_seconds: int = 0
    digest: str = ""
    window_start: datetime | None = None
    window_end: datetime | None = None
    after_batch: int = 0
    through_batch: int = 0
    days: int | None = None
    period_days: int | None = None


class Discount(Frozen):
    """The rule a discount line follows (domain/discount.py): a percentage of, or an amount
    off, one line (``applies_to``) or the invoice's net (``applies_to`` None). Every line a
    rule gives carries the rule, so the rule is read back from the invoice's own lines."""

    discount_id: UUID
    percent: Dec | None = None
    amount: Dec | None = None
    applies_to: UUID | None = None
    description: str = ""


class InvoiceLine(Frozen):
    """One line of a document. Net and tax are derived, never stored apart from the line."""

    line_id: UUID
    description: str
    quantity: Dec
    unit_price: Dec
    tax_rate: Dec
    tax_description: str = ""
    period_start: date | None = None
    period_end: date | None = None
    package_id: UUID | None = None
    kind: LineKind = "manual"
    unit: str = ""
    source: LineSource | None = None  # set on lines a billing run generated
    discount: Discount | None = None  # set on discount lines only (kind "discount")

    def net(self, currency: str) -> Decimal:
        return line_net(self.quantity, self.unit_price, currency)

    def tax(self, currency: str) -> Decimal:
        return line_tax(self.net(currency), self.tax_rate, currency)


class Totals(Frozen):
    """Net, tax and total of a document, plus the tax summary per rate.

    ``tax_by_rate[rate] = (net, tax)``: in ``per_line`` mode the tax is the sum of the line
    taxes at that rate (not always net x rate: 267.00 at 20 % may carry 53.41); in
    ``per_invoice_rate`` mode it is exactly round(net x rate / 100)."""

    currency: str
    net: Dec
    tax: Dec
    total: Dec
    tax_by_rate: dict[str, tuple[Dec, Dec]]  # rate -> (net, tax)
    rounding: TaxRounding = "per_line"


def rate_key(rate: Decimal) -> str:
    """A rate as the tax summary names it: ``20``, ``7.5``, ``0``."""
    return format(rate.normalize(), "f")


#: a document's line with its net and its share of the document's tax (``line_taxes``)
LineFigures = tuple[InvoiceLine, Decimal, Decimal]
_ZERO = Decimal(0)


def totals_of(
    lines: Iterable[InvoiceLine], currency: str, rounding: TaxRounding = "per_line"
) -> Totals:
    return _figures(lines, currency, rounding)[0]


def _figures(
    lines: Iterable[InvoiceLine], currency: str, rounding: TaxRounding
) -> tuple[Totals, list[LineFigures]]:
    """``totals_of``, and each line with its net and, per line, its rounded tax (per rate:
    zero, the rate's tax being worked out from the nets' sum)."""
    net = Decimal(0)
    by_rate: dict[str, tuple[Decimal, Decimal]] = {}
    figures: list[LineFigures] = []
    # what line.net and line.tax look up on every call, looked up at the first line (with no
    # line, an unknown currency is not looked up: zero totals, as before)
    exponent: Decimal | None = None
    per_line = rounding == "per_line"
    # each rate's name worked out once per rate object: a document's lines mostly share one
    # (a billing run's ~25 lines an invoice do), and an object keeps its value
    names: dict[int, str] = {}
    for line in lines:
        if exponent is None:
            exponent = currency_exponent(currency)
        line_net_amount = net_to(line.quantity, line.unit_price, exponent)
        # per line: each line's rounded tax; per rate: summed after the loop, from the nets
        line_tax_amount = tax_to(line_net_amount, line.tax_rate, exponent) if per_line else _ZERO
        figures.append((line, line_net_amount, line_tax_amount))
        net += line_net_amount
        key = names.get(id(line.tax_rate))
        if key is None:
            key = names[id(line.tax_rate)] = rate_key(line.tax_rate)
        old_net, old_tax = by_rate.get(key, (_ZERO, _ZERO))
        by_rate[key] = (old_net + line_net_amount, old_tax + line_tax_amount)
    if rounding == "per_invoice_rate":
        by_rate = {
            key: (rate_net, line_tax(rate_net, Decimal(key), currency))
            for key, (rate_net, _) in by_rate.items()
        }
    tax = sum((rate_tax for _, rate_tax in by_rate.values()), _ZERO)
    totals = Totals(
        currency=currency,
        net=net,
        tax=tax,
        total=net + tax,
        tax_by_rate=by_rate,
        rounding=rounding,
    )
    return totals, figures


def line_taxes(
    lines: Iterable[InvoiceLine], currency: str, rounding: TaxRounding = "per_line"
) -> dict[UUID, Decimal]:
    """Each line's share of the document's tax, in minor units, summing per rate to the
    ``tax_by_rate`` of ``totals_of`` in the same mode: what an export sends as explicit line
    tax amounts. Per line: the line's own rounded tax. Per rate: the rate's tax split over
    its lines by the largest remainder of their exact tax (ties: the earlier line)."""
    if rounding == "per_line":
        return {line.line_id: line.tax(currency) for line in lines}
    return {line.line_id: tax for line, _, tax in document_figures(lines, currency, rounding)[1]}


def document_figures(
    lines: Iterable[InvoiceLine], currency: str, rounding: TaxRounding = "per_line"
) -> tuple[Totals, list[LineFigures]]:
    """``totals_of`` the lines, and each line with its net and its share of the tax as
    ``line_taxes`` gives it: what a document prints, each line's net worked out once (a
    document asking for the totals and the shares apart worked every net out three times)."""
    totals, figures = _figures(lines, currency, rounding)
    if rounding == "per_line":
        return totals, figures
    unit = Decimal(1).scaleb(-minor_units(currency))
    shares: dict[int, Decimal] = {}
    for key, (_, rate_tax) in totals.tax_by_rate.items():
        at_rate = [n for n, (line, _, _) in enumerate(figures) if rate_key(line.tax_rate) == key]
        exact = [figures[n][1] * figures[n][0].tax_rate / 100 for n in at_rate]
        floors = [(tax / unit).to_integral_value(rounding=ROUND_FLOOR) * unit for tax in exact]
        # round(sum) lies between the sum of the floors and it plus one unit per line
        left = int((rate_tax - sum(floors, Decimal(0))) / unit)
        by_remainder = sorted(range(len(at_rate)), key=lambda n: (floors[n] - exact[n], n))
        for n in by_remainder[:left]:
            floors[n] += unit
        shares.update(zip(at_rate, floors, strict=True))
    return totals, [(line, net, shares[n]) for n, (line, net, _) in enumerate(figures)]
