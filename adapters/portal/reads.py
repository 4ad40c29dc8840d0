"""What the portal shows beside its read-model lists: the totals row of the invoice list, and
the figures of the customer chart (read by adapters/queries/reports.py)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from adapters.queries.reports import MonthFigures
from domain.money import round_to_currency
from projections.aged_receivables import BUCKETS
from projections.view import Row


def totals_by_currency(rows: list[Row]) -> list[dict[str, Any]]:
    """The totals row of the invoice list, one per currency (amounts never mix currencies):
    total - credited - paid = due, as on every row."""
    sums: dict[str, dict[str, Decimal]] = {}
    counts: dict[str, int] = {}
    for row in rows:
        per = sums.setdefault(
            row["currency"], dict.fromkeys(("total", "credited", "paid", "due"), Decimal(0))
        )
        counts[row["currency"]] = counts.get(row["currency"], 0) + 1
        if row["state"] != "void":
            per["total"] += row["total"]
            per["credited"] += row["credited"]
            per["paid"] += row["paid"]
        per["due"] += row["amount_due"]
    return [
        {
            "currency": currency,
            "count": counts[currency],
            **{name: round_to_currency(value, currency) for name, value in per.items()},
        }
        for currency, per in sorted(sums.items())
    ]


__all__ = ["BUCKETS", "MonthFigures", "totals_by_currency"]
