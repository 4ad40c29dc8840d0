"""Small builders for tests: a customer with an issued invoice, a completed payment."""

from __future__ import annotations

from decimal import Decimal as D
from uuid import UUID

from adapters.ledger.application import Ledger


def customer(
    ledger: Ledger, account: str = "ACME", currency: str = "GBP", rate: str = "20"
) -> UUID:
    return ledger.register_customer(
        "test",
        account_number=account,
        name=f"{account} Ltd",
        currency=currency,
        tax_rate=D(rate),
        tax_description=f"VAT {rate}%",
        payment_terms_days=14,
    )


def issued_invoice(ledger: Ledger, account: str = "ACME", net: str = "100.00") -> str:
    """An issued invoice whose total is ``net`` plus the customer's tax."""
    invoice_id = ledger.create_invoice(account, "test")
    ledger.add_line(invoice_id, "test", description="Service", quantity=D("1"), unit_price=D(net))
    return ledger.issue_invoice(invoice_id, "test")


def completed_payment(ledger: Ledger, account: str = "ACME", amount: str = "100.00") -> UUID:
    return ledger.record_payment(account, "test", amount=D(amount), status="completed")


def event_count(ledger: Ledger) -> int:
    return sum(1 for _ in ledger.all_events())
