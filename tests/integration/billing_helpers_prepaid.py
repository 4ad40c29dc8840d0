"""Small helpers for the prepaid tests: a draft with one line, the events of one type."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any
from uuid import UUID

from adapters.ledger.application import Ledger


def draft(ledger: Ledger, net: str, account: str = "ACME") -> UUID:
    invoice_id = ledger.create_invoice(account, "t")
    ledger.add_line(invoice_id, "t", description="Service", quantity=D(1), unit_price=D(net))
    return invoice_id


def events_named(ledger: Ledger, name: str) -> list[Any]:
    return [e for _, e in ledger.all_events() if type(e).__qualname__ == name]
