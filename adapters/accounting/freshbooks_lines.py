"""How FreshBooks totals the lines we send, and how a ledger line is sent so that it totals
exactly what the ledger says.

FreshBooks' invoice and credit lines (its Invoices and Credits API pages): ``qty`` times
``unit_cost`` (a money object kept "to two decimal places") gives the line ``amount``, "to two
decimal places"; ``taxAmount1``/``taxAmount2`` are tax *percentages* "up to three decimal
places" named by ``taxName1``/``taxName2``; FreshBooks computes the tax itself, it has no
field for a tax amount. The document's ``amount`` is the sum of the lines and their taxes.

FreshBooks does not document its tax rounding. We take tax per line, rounded half-up to the
cent - the ledger's own rule - and a line's net never relies on FreshBooks rounding: a line
goes as it is priced only when ``qty x unit_cost`` is exactly its net in cents; otherwise (a
telecom rate like 0.012345/min) it goes as 1 x the ledger's net with the real quantity and price
in its description (so does a quantity of more than 2 decimals, whose precision FreshBooks does
not document). Whatever FreshBooks answers is compared with the ledger (``Sent``) and read
back by ``export reconcile``, so a difference in its tax rounding shows, never hides.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from adapters.accounting import documents as docs
from adapters.accounting.errors import RemoteRejected
from adapters.accounting.rounding import plain

CENT = Decimal("0.01")
#: "taxAmount1: first tax amount in percentage, up to 3 decimal places"
TAX_PERCENT_PLACES = 3
#: FreshBooks' line name is a short label; the full text travels in the description.
NAME_LENGTH = 200


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def places(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


@dataclass(frozen=True)
class FreshBooksLine:
    name: str
    description: str
    qty: Decimal
    unit_cost: Decimal
    tax_name: str
    tax_percent: Decimal

    @property
    def amount(self) -> Decimal:
        return cents(self.qty * self.unit_cost)

    @property
    def tax(self) -> Decimal:
        return cents(self.amount * self.tax_percent / 100)

    def as_json(self, currency: str) -> dict[str, Any]:
        taxed = self.tax_percent != 0
        return {
            "name": self.name[:NAME_LENGTH],
            "description": self.description,
            "qty": plain(self.qty),
            "unit_cost": {"amount": format(self.unit_cost, "f"), "code": currency},
            "taxName1": self.tax_name if taxed else None,
            "taxAmount1": plain(self.tax_percent) if taxed else None,
        }


def freshbooks_line(line: docs.Line, currency: str) -> FreshBooksLine:
    """The FreshBooks line whose amount and tax are the ledger's line net and tax."""
    for what, value in (("net", line.net), ("tax", line.tax)):
        if value != value.quantize(CENT):
            raise RemoteRejected(
                f"FreshBooks keeps amounts to 2 decimals: the line {line.description!r} has a"
                f" {what} of {value} {currency}, which it cannot hold"
            )
    if places(line.tax_rate) > TAX_PERCENT_PLACES:
        raise RemoteRejected(
            f"FreshBooks takes tax percentages to {TAX_PERCENT_PLACES} decimals: the line"
            f" {line.description!r} is taxed at {plain(line.tax_rate)}%"
        )
    name = line.tax_description or f"Tax {plain(line.tax_rate)}%"
    # FreshBooks documents no precision for qty: a quantity finer than cents is not trusted.
    priced = places(line.unit_price) <= 2 and places(line.quantity) <= 2
    if priced and line.quantity * line.unit_price == line.net:
        sent = FreshBooksLine(
            line.description, line.description, line.quantity, line.unit_price, name, line.tax_rate
        )
    else:
        text = f"{line.description} ({plain(line.quantity)} × {plain(line.unit_price)})"
        sent = FreshBooksLine(line.description, text, Decimal(1), line.net, name, line.tax_rate)
    if sent.tax != line.tax:
        # a rate's tax rounded once per invoice (per_invoice_rate) shares out differently
        # from FreshBooks' own tax per line, and FreshBooks takes no tax amount: the document
        # cannot be sent as the ledger has it (enter it by hand and resolve)
        raise RemoteRejected(
            f"FreshBooks computes the tax of {line.description!r} as {sent.tax} {currency} from"
            f" {plain(line.tax_rate)}% and takes no tax amount; the ledger has {line.tax}"
        )
    return sent


def freshbooks_lines(lines: tuple[docs.Line, ...], currency: str) -> list[FreshBooksLine]:
    return [freshbooks_line(line, currency) for line in lines]


def freshbooks_total(lines: list[FreshBooksLine]) -> Decimal:
    return sum((line.amount + line.tax for line in lines), Decimal(0))
