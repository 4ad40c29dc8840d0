"""Read-model rows as the JSON documents lists return (amounts as strings at the currency's
minor units, dates ISO 8601), and a page's aggregates as their usual documents."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from adapters.views import balance_doc
from domain.money import round_to_currency
from projections.aged_receivables import BUCKETS, AgedRow
from projections.balances import BalanceRow
from projections.customer_balances import AMOUNTS
from projections.invoice_register import status_of
from projections.view import Row


def register_doc(row: Row, today: date) -> dict[str, Any]:
    """An invoice register row: the invoice without its lines (``GET /invoices/{ref}`` and
    ``invoice show`` give those)."""
    currency = row["currency"]
    return {
        "id": row["invoice_id"],
        "number": row["number"],
        "version": row["version"],
        "customer_id": row["customer_id"],
        "customer_account": row["customer_account"],
        "currency": currency,
        "status": status_of(row, today),
        **{
            name: row[name].isoformat() if row[name] else None
            for name in ("invoice_date", "due_date", "period_start", "period_end", "issued_on")
        },
        **{
            name: str(round_to_currency(row[name], currency))
            for name in ("net", "tax", "total", "credited", "paid", "outstanding")
        },
        "amount_due": str(round_to_currency(amount_due(row), currency)),
    }


def amount_due(row: Row) -> Decimal:
    """What the invoice asks for: outstanding when issued, the would-be total for a draft."""
    if row["state"] == "draft":
        return Decimal(row["total"])
    return Decimal(row["outstanding"])


def balance_row_doc(row: Row) -> dict[str, Any]:
    return balance_doc(
        BalanceRow(
            UUID(row["customer_id"]),
            row["customer_account"],
            row["currency"],
            **{name: row[name] for name in AMOUNTS},
        )
    )


def aged_doc(row: AgedRow) -> dict[str, Any]:
    """One customer's receivables in one currency, by bucket, at the currency's minor units."""
    return {
        "customer_id": row.customer_id,
        "customer_account": row.customer_account,
        "currency": row.currency,
        **{b: str(round_to_currency(row.buckets[b], row.currency)) for b in BUCKETS},
        "total": str(round_to_currency(row.total, row.currency)),
    }


def history_doc(row: Row) -> dict[str, Any]:
    """One payment movement of the payment history."""
    return {
        **row,
        "amount": str(round_to_currency(row["amount"], row["currency"])),
        "received_on": row["received_on"].isoformat(),
        "recorded_at": row["recorded_at"].isoformat(),
    }
