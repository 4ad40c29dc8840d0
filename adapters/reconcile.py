"""Reconciliation: every balance recomputed from the events, compared with the read models and
with each invoice's and payment's own state.

Each read model is compared at its own tracking position (the fold stops there, invoices and
payments are loaded at the version their row reflects), so a ledger that keeps taking writes
while this runs reports no false difference. Only the cross-check between invoice aggregates
and the balance fold reads "now" on both sides.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from adapters.store.read_models import SqlViewStore
from domain.aggregate import Event
from domain.application import Ledger
from domain.invoice import Invoice
from domain.payment import Payment
from projections.aged_receivables import MOVEMENTS, age
from projections.balances import Balances
from projections.customer_balances import BALANCES
from projections.invoice_register import REGISTER
from projections.payment_history import HISTORY

FAR_FUTURE = date(9999, 12, 31)


@dataclass(frozen=True)
class Difference:
    """One value the events say one thing about and a read model (or aggregate) another."""

    check: str
    subject: str
    field: str
    expected: str  # from the events
    found: str  # in the read model


def events_up_to(ledger: Ledger, position: int) -> Iterator[Event]:
    for at, event in ledger.all_events():
        if at > position:
            return
        yield event


def _text(value: Any) -> str:
    return "(none)" if value is None else str(value)


def _compare(
    check: str, subject: str, expected: dict[str, Any], found: dict[str, Any] | None
) -> list[Difference]:
    if found is None:
        return [Difference(check, subject, "row", "present", "(missing)")]
    return [
        Difference(check, subject, name, _text(value), _text(found.get(name)))
        for name, value in expected.items()
        if value != found.get(name)
    ]


def reconcile(ledger: Ledger, store: SqlViewStore) -> list[Difference]:
    """Every difference between the events and the read models (empty: all agree)."""
    tracking = store.tracking(
        ["balances", "invoice_register", "payment_history", "aged_receivables"]
    )
    return [
        *_balances(ledger, store, tracking["balances"].position),
        *_register(ledger, store),
        *_payments(ledger, store),
        *_aged(ledger, store, tracking["aged_receivables"].position),
        *_invoices_against_fold(ledger),
    ]


def _balances(ledger: Ledger, store: SqlViewStore, position: int) -> list[Difference]:
    fold = Balances().fold(events_up_to(ledger, position))
    rows = {(r["customer_id"], r["currency"]): r for r in store.select(BALANCES)}
    differences = []
    for row in fold.all():
        subject = f"{row.customer_account} {row.currency}"
        expected = {
            "customer_account": row.customer_account,
            "invoiced": row.invoiced,
            "credited": row.credited,
            "received": row.received,
            "allocated": row.allocated,
            "refunded": row.refunded,
            "unallocated": row.unallocated,
            "outstanding": row.outstanding,
            "net_due": row.net_due,
        }
        found = rows.pop((str(row.customer_id), row.currency), None)
        differences += _compare("balances", subject, expected, found)
    for extra in rows.values():
        subject = f"{extra['customer_account']} {extra['currency']}"
        differences.append(Difference("balances", subject, "row", "(none)", "present"))
    return differences


def _register(ledger: Ledger, store: SqlViewStore) -> list[Difference]:
    rows = {r["invoice_id"]: r for r in store.select(REGISTER)}
    differences = []
    for current in ledger.invoices():
        row = rows.pop(str(current.id), None)
        subject = current.label
        if row is None:
            differences.append(
                Difference("invoice register", subject, "row", "present", "(missing)")
            )
            continue
        invoice = current
        if row["version"] != current.version and 0 < row["version"] <= current.version:
            invoice = ledger.as_of(Invoice, current.id, version=row["version"])
        totals = invoice.totals
        expected = {
            "version": invoice.version,
            "number": invoice.number,
            "state": invoice.state,
            "customer_id": str(invoice.customer_id),
            "currency": invoice.currency,
            "invoice_date": invoice.invoice_date,
            "due_date": invoice.due_date,
            "net": totals.net,
            "tax": totals.tax,
            "total": totals.total,
            "credited": invoice.credited,
            "paid": invoice.allocated,
            "outstanding": invoice.outstanding,
        }
        differences += _compare("invoice register", subject, expected, row)
    for extra in rows.values():
        subject = extra["number"] or extra["invoice_id"]
        differences.append(Difference("invoice register", subject, "row", "(none)", "present"))
    return differences


def _payments(ledger: Ledger, store: SqlViewStore) -> list[Difference]:
    """Each payment's history rows, summed, against the payment at the same version."""
    history: dict[str, list[dict[str, Any]]] = {}
    for row in store.select(HISTORY, order_by="position"):
        history.setdefault(row["payment_id"], []).append(row)
    differences = []
    for current in ledger.payments():
        rows = history.pop(str(current.id), [])
        subject = f"payment {str(current.id)[:8]}"
        if not rows:
            differences.append(Difference("payment history", subject, "rows", "present", "(none)"))
            continue
        # one history row per payment event: the row count is the version it reflects
        payment = current
        if len(rows) < current.version:
            payment = ledger.as_of(Payment, current.id, version=len(rows))
        sums = {kind: Decimal(0) for kind in ("allocated", "unallocated", "refunded")}
        for row in rows:
            if row["kind"] in sums:
                sums[row["kind"]] += row["amount"]
        expected = {
            "events": payment.version,
            "amount": payment.amount,
            "allocated": payment.allocated,
            "refunded": payment.refunded,
            "status": payment.status,
        }
        found = {
            "events": len(rows),
            "amount": rows[0]["amount"],
            "allocated": sums["allocated"] - sums["unallocated"],
            "refunded": sums["refunded"],
            "status": rows[-1]["status"],
        }
        differences += _compare("payment history", subject, expected, found)
    for payment_id in history:
        differences.append(
            Difference("payment history", f"payment {payment_id[:8]}", "rows", "(none)", "present")
        )
    return differences


def _aged(ledger: Ledger, store: SqlViewStore, position: int) -> list[Difference]:
    """Everything aged (as of the end of time) is what the fold says is outstanding."""
    fold = Balances().fold(events_up_to(ledger, position))
    aged = {(r.customer_id, r.currency): r.total for r in age(store.select(MOVEMENTS), FAR_FUTURE)}
    differences = []
    for row in fold.all():
        found = aged.pop((str(row.customer_id), row.currency), Decimal(0))
        if found != row.outstanding:
            subject = f"{row.customer_account} {row.currency}"
            differences.append(
                Difference("aged receivables", subject, "total", str(row.outstanding), str(found))
            )
    for (customer_id, currency), total in aged.items():
        differences.append(
            Difference("aged receivables", f"{customer_id} {currency}", "total", "0", str(total))
        )
    return differences


def _invoices_against_fold(ledger: Ledger) -> list[Difference]:
    """The invoices' own outstanding amounts, summed per customer, against the balance fold."""
    fold = Balances().fold(event for _, event in ledger.all_events())
    owed: dict[tuple[UUID, str], Decimal] = {}
    for invoice in ledger.invoices():
        key = (invoice.customer_id, invoice.currency)
        owed[key] = owed.get(key, Decimal(0)) + invoice.outstanding
    differences = []
    for row in fold.all():
        found = owed.get((row.customer_id, row.currency), Decimal(0))
        if found != row.outstanding:
            differences.append(
                Difference(
                    "invoices vs events",
                    f"{row.customer_account} {row.currency}",
                    "outstanding",
                    str(row.outstanding),
                    str(found),
                )
            )
    return differences
