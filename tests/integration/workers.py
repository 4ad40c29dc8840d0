"""Code that runs in separate processes for the concurrency tests (spawned, not forked)."""

from __future__ import annotations

import time
from decimal import Decimal

from adapters.config import build_ledger
from domain.errors import BillingError


def issue_all(url: str, invoice_ids: list[str], start_at: float) -> list[str]:
    ledger = build_ledger(url)
    time.sleep(max(0.0, start_at - time.time()))
    try:
        return [ledger.issue_invoice(invoice_id, "worker") for invoice_id in invoice_ids]
    finally:
        ledger.close()


def allocate_each(
    url: str, payment_id: str, numbers: list[str], amount: str, start_at: float
) -> tuple[int, list[str]]:
    ledger = build_ledger(url)
    time.sleep(max(0.0, start_at - time.time()))
    done, refused = 0, []
    try:
        for number in numbers:
            try:
                ledger.allocate(payment_id, [(number, Decimal(amount))], "worker")
                done += 1
            except BillingError as error:
                refused.append(error.code)
        return done, refused
    finally:
        ledger.close()
