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


@dataclass
class Corrections:
    """What the correction cycle left in the ledger (see ``correction_cycle``)."""

    numbers: list[str]  # issued invoice numbers, in order
    credit_note: str
    voided: str
    twins: tuple[str, str]  # account numbers of two customers with one name
    refunded: D


def correction_cycle(ledger: Any) -> Corrections:
    """A month with everything a bookkeeper corrects: unicode names, prices of 4 to 6 decimals
    at two tax rates, a credit note, a part payment, one payment over two invoices, an
    un-allocation (part of one payment taken back), a payment taken back in full from an
    invoice that is then voided, two refunds of the credit that freed, and two customers who
    share a name."""
    for account, name, rate in (
        ("TKY", "東京テレコム株式会社 (Tokyo Telecom K.K.)", "20"),
        ("ZRH", "Zürich Télécom AG — Ünïcødé", "20"),
        ("ACME1", "Acme Telecom Ltd", "20"),
        ("ACME2", "Acme Telecom Ltd", "20"),
    ):
        ledger.register_customer(
            "t",
            account_number=account,
            name=name,
            currency="GBP",
            tax_rate=D(rate),
            tax_description=f"VAT {rate}%",
            payment_terms_days=14,
        )
    numbers = []
    for account, lines in (
        (
            "TKY",
            [
                ("Calls to UK mobiles", "1234.5", "0.012345", None),
                ("Calls to Japan", "777.25", "0.04565", "5"),
                ("Number porting", "3", "12.3456", None),
            ],
        ),
        ("TKY", [("DID rental", "7", "1.123456", "5"), ("Setup fee", "1", "25.00", None)]),
        ("ZRH", [("Calls to Switzerland", "1000", "0.0275", None)]),
        ("ACME1", [("Calls", "100", "0.10", None)]),
        ("ACME2", [("Calls", "200", "0.10", None)]),
    ):
        invoice_id = ledger.create_invoice(account, "t")
        for description, quantity, price, rate in lines:
            ledger.add_line(
                invoice_id,
                "t",
                description=description,
                quantity=D(quantity),
                unit_price=D(price),
                tax_rate=D(rate) if rate else None,
                tax_description=f"VAT {rate}%" if rate else None,
            )
        numbers.append(ledger.issue_invoice(invoice_id, "t"))
    first, second, swiss = numbers[0], numbers[1], numbers[2]
    credit_note = ledger.issue_credit_note(
        first,
        "t",
        "wrong rate",
        lines=[
            {
                "description": "Calls to Japan",
                "quantity": D("100"),
                "unit_price": D("0.04565"),
                "tax_rate": D("5"),
                "tax_description": "VAT 5%",
            }
        ],
    )

    # A part payment of the first invoice, then one payment over the rest of it and part of
    # the second; 20.00 of that is taken back off the second invoice and 15.00 refunded.
    part = ledger.record_payment("TKY", "t", amount=D("50.00"), status="completed")
    ledger.allocate(part, [(first, D("50.00"))], "t")
    rest = ledger.invoice(first).outstanding
    spread = ledger.record_payment(
        "TKY", "t", amount=rest + D("30.00"), reference="BACS 7781", status="completed"
    )
    ledger.allocate(spread, [(first, rest), (second, D("30.00"))], "t")
    ledger.unallocate(spread, second, D("20.00"), "t", "paid the wrong invoice")
    ledger.refund_payment(spread, D("15.00"), "t", reference="refund 1")

    # A payment of the Swiss invoice taken back in full, the invoice voided, the money refunded.
    swiss_total = ledger.invoice(swiss).outstanding
    wrong = ledger.record_payment("ZRH", "t", amount=swiss_total, status="completed")
    ledger.allocate(wrong, [(swiss, swiss_total)], "t")
    ledger.unallocate(wrong, swiss, swiss_total, "t", "paid twice")
    ledger.void_invoice(swiss, "t", "issued by mistake")
    ledger.refund_payment(wrong, swiss_total, "t", reference="refund 2")
    return Corrections(
        numbers=numbers,
        credit_note=credit_note,
        voided=swiss,
        twins=("ACME1", "ACME2"),
        refunded=D("15.00") + swiss_total,
    )
