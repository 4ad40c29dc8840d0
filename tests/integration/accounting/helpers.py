"""Helpers for the export tests: a connection to a fake, and a month of billing."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal as D
from typing import Any

from adapters.accounting.config import Connection, parse_connections


def connection_to(fake: Any, name: str | None = None, **overrides: Any) -> Connection:
    settings = {**fake.connection_settings(), **overrides}
    name = name or settings["system"]
    return parse_connections({"connections": {name: settings}}, {})[name]


@dataclass
class Cycle:
    """What a month of billing left in the ledger."""

    numbers: list[str]  # issued invoice numbers, in order
    draft_id: Any
    credit_note: str
    voided: str
    paid: dict[str, D]  # invoice number -> amount allocated


def billing_cycle(ledger: Any) -> Cycle:
    """Two customers, a draft never issued, three invoices (one voided), a credit note, a
    completed payment spread over two invoices, and a pending payment that never completes."""
    ledger.register_customer(
        "t",
        account_number="ACME",
        name="Acme Telecom Ltd",
        currency="GBP",
        tax_rate=D("20"),
        tax_description="VAT 20%",
        payment_terms_days=14,
        email="billing@acme.example",
        billing_address="1 High Street, London",
    )
    ledger.register_customer(
        "t",
        account_number="GLOBEX",
        name="Globex Carriers",
        currency="GBP",
        tax_rate=D("20"),
        tax_description="VAT 20%",
        payment_terms_days=30,
        external_accounting_id="GLX-0042",
    )
    numbers = []
    for account, lines in (
        ("ACME", [("Calls to UK mobiles", "1200", "0.0150"), ("DID rental", "10", "1.50")]),
        ("GLOBEX", [("Calls to India", "5000", "0.0090")]),
        ("ACME", [("Setup fee", "1", "25.00")]),
    ):
        invoice_id = ledger.create_invoice(account, "t")
        for description, quantity, price in lines:
            ledger.add_line(
                invoice_id,
                "t",
                description=description,
                quantity=D(quantity),
                unit_price=D(price),
            )
        numbers.append(ledger.issue_invoice(invoice_id, "t"))
    draft_id = ledger.create_invoice("GLOBEX", "t")
    ledger.add_line(draft_id, "t", description="Not yet", quantity=D(1), unit_price=D(9))
    credit_note = ledger.issue_credit_note(numbers[0], "t", "wrong rate", amount=D("2.00"))
    payment = ledger.record_payment("ACME", "t", amount=D("30.00"), status="completed")
    ledger.allocate(payment, [(numbers[0], D("20.00"))], "t")
    globex_payment = ledger.record_payment("GLOBEX", "t", amount=D("54.00"))
    ledger.complete_payment(globex_payment, "t")
    ledger.allocate(globex_payment, [(numbers[1], D("54.00"))], "t")
    ledger.record_payment("GLOBEX", "t", amount=D("99.00"))  # pending: never exported
    ledger.void_invoice(numbers[2], "t", "issued by mistake")
    return Cycle(
        numbers=numbers,
        draft_id=draft_id,
        credit_note=credit_note,
        voided=numbers[2],
        paid={numbers[0]: D("20.00"), numbers[1]: D("54.00")},
    )
