"""Which ledger events become export items: every kind of customer details change counts."""

from __future__ import annotations

from datetime import UTC, datetime

from adapters.accounting.events import item_for
from adapters.config import build_ledger
from adapters.describe import describe
from domain.changes import CustomerChanges
from domain.customer import Customer


def _ledger():  # type: ignore[no-untyped-def]
    return build_ledger("memory://", clock=lambda: datetime(2026, 3, 2, 9, 0, tzinfo=UTC))


def test_a_changed_email_updates_the_contact_and_reads_in_the_history() -> None:
    ledger = _ledger()
    ledger.register_customer(
        "finance:ana", account_number="ACME", name="Acme Calls Ltd", email="old@acme.example"
    )
    ledger.change_customer(
        "ACME", CustomerChanges.model_validate({"email": "billing@acme.example"}), "finance:ana"
    )
    events = list(ledger.all_events())
    changed = [(p, e) for p, e in events if isinstance(e, Customer.DetailsChanged)]
    assert [type(e).__name__ for _, e in changed] == ["BillingDetailsChanged"]
    position, event = changed[0]
    item = item_for(ledger, position, event)
    assert item is not None and item.kind == "contact"
    assert item.document.email == "billing@acme.example"  # type: ignore[union-attr]
    assert "email old@acme.example → billing@acme.example" in describe(event)


def test_a_change_accounting_does_not_carry_exports_nothing() -> None:
    ledger = _ledger()
    ledger.register_customer("finance:ana", account_number="ACME", name="Acme Calls Ltd")
    ledger.change_customer(
        "ACME", CustomerChanges.model_validate({"payment_terms_days": 45}), "finance:ana"
    )
    position, event = list(ledger.all_events())[-1]
    assert type(event).__name__ == "PaymentTermsChanged"
    assert item_for(ledger, position, event) is None
    assert "payment terms days" in describe(event)
