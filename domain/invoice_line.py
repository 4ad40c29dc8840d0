"""Invoice lines and document totals, computed with the ledger's one rounding rule."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Literal
from uuid import UUID

from domain.money import line_net, line_tax
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
    """Net, tax and total of a document, plus the tax summary per rate."""

    currency: str
    net: Dec
    tax: Dec
    total: Dec
    tax_by_rate: dict[str, tuple[Dec, Dec]]  # rate -> (net, tax)


def totals_of(lines: Iterable[InvoiceLine], currency: str) -> Totals:
    net = tax = Decimal(0)
    by_rate: dict[str, tuple[Decimal, Decimal]] = {}
    for line in lines:
        line_net_amount, line_tax_amount = line.net(currency), line.tax(currency)
        net += line_net_amount
        tax += line_tax_amount
        rate_key = format(line.tax_rate.normalize(), "f")
        old_net, old_tax = by_rate.get(rate_key, (Decimal(0), Decimal(0)))
        by_rate[rate_key] = (old_net + line_net_amount, old_tax + line_tax_amount)
    return Totals(currency=currency, net=net, tax=tax, total=net + tax, tax_by_rate=by_rate)
