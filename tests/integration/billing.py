"""Small helpers that drive the ledger through realistic billing steps for read-model tests."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any
from uuid import UUID

from adapters.ledger.application import Ledger
from adapters.store.database import Database
from adapters.store.read_models import SqlViewStore
from projections.runner import Runner


def customer(ledger: Ledger, account: str, currency: str = "GBP", terms: int = 14) -> UUID:
    return ledger.register_customer(
        "t",
        account_number=account,
        name=f"{account} Ltd",
        currency=currency,
        tax_rate=D("20"),
        tax_description="VAT 20%",
        payment_terms_days=terms,
    )


def issued_invoice(ledger: Ledger, account: str, net: str, **dates: Any) -> str:
    invoice_id = ledger.create_invoice(account, "t", **dates)
    ledger.add_line(invoice_id, "t", description="Calls", quantity=D(1), unit_price=D(net))
    return ledger.issue_invoice(invoice_id, "t")


def paid(ledger: Ledger, account: str, amount: str) -> UUID:
    return ledger.record_payment(account, "t", amount=D(amount), status="completed")


def runner_for(ledger: Ledger, url: str, batch_size: int = 1000) -> Runner:
    store = SqlViewStore(Database.from_url(url), ledger.recorder.events_table_name)  # type: ignore[attr-defined]
    return Runner(ledger, store, batch_size=batch_size)


def execute(url: str, statement: str, params: tuple[Any, ...] = ()) -> list[Any]:
    """Raw SQL against the ledger's database, as someone behind the application's back would."""
    db = Database.from_url(url)
    with db.connect() as conn:
        cursor = conn.execute(db.sql(statement), params)
        return list(cursor.fetchall()) if cursor.description else []
