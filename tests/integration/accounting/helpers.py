"""Helpers for the export tests: a connection to a fake, and a month of billing."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal as D
from typing import Any

from adapters.accounting.config import Connection, parse_connections
from adapters.accounting.exporter import Exporter
from adapters.accounting.reconcile import (
    LedgerDocument,
    Reconciliation,
    ledger_status,
    reconcile,
)
from adapters.ledger.folds import LogFolds
from domain.credit_note import CreditLine


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
    credit_note: str  # part of the first invoice
    full_credit: str  # all of the last invoice
    voided: str
    twins: tuple[str, str]  # account numbers of two customers with one name
    refunded: D

    @property
    def documents(self) -> list[str]:
        """Every invoice and credit note number: what a reconciliation reads back."""
        return [*self.numbers, self.credit_note, self.full_credit]


#: Four lines of 100 characters, a city of 100: every part within each system's published
#: limits (docs/exports.md), none of them ever cut.
LONG_ADDRESS = {
    "lines": [f"{n}{'ü' * 9} " + chr(0x41 + n) * 89 for n in range(1, 5)],
    "city": "Zürich" + "ü" * 94,
    "region": "Kanton Zürich",
    "postal_code": "8001",
    "country": "CH",
}


def correction_cycle(ledger: Any) -> Corrections:
    """A month with everything a bookkeeper corrects: unicode names, prices of 4 to 6 decimals
    at two tax rates, a credit note, a part payment, one payment over two invoices, an
    un-allocation (part of one payment taken back), a payment taken back in full from an
    invoice that is then voided, two refunds of the credit that freed, an invoice credited in
    full, two customers who share a name, and one with a long structured address."""
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
            address=LONG_ADDRESS if account == "ZRH" else None,
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
            CreditLine.model_validate(
                {
                    "description": "Calls to Japan",
                    "quantity": D("100"),
                    "unit_price": D("0.04565"),
                    "tax_rate": D("5"),
                    "tax_description": "VAT 5%",
                }
            )
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

    # The second twin's invoice was never owed: credited in full.
    full_credit = ledger.issue_credit_note(numbers[4], "t", "never owed", full=True)
    return Corrections(
        numbers=numbers,
        credit_note=credit_note,
        full_credit=full_credit,
        voided=swiss,
        twins=("ACME1", "ACME2"),
        refunded=D("15.00") + swiss_total,
    )


def ledger_documents(ledger: Any) -> dict[str, LedgerDocument]:
    """The ledger's side of a reconciliation, from its aggregates (the CLI reads the same from
    its read models)."""
    documents = {}
    for invoice in LogFolds(ledger).invoices():
        if invoice.number is None:
            continue
        documents[str(invoice.id)] = LedgerDocument(
            "invoice",
            str(invoice.id),
            invoice.number,
            invoice.currency,
            invoice.totals.total,
            invoice.outstanding,
            ledger_status(invoice.state, invoice.outstanding),
            invoice.due_date,
        )
    for note in LogFolds(ledger).credit_notes():
        documents[str(note.id)] = LedgerDocument(
            "credit_note", str(note.id), note.number, note.currency, note.totals.total, D(0), "paid"
        )
    return documents


def reconcile_exported(exporter: Exporter, ledger: Any) -> Reconciliation:
    """Every invoice and credit note ``exporter`` sent, read back through its client."""
    exported = [
        (kind, local_id, remote_id)
        for (kind, local_id), remote_id in exporter.store.remote_ids(exporter.name).items()
        if kind in ("invoice", "credit_note")
    ]
    return reconcile(
        exporter.name,
        exporter.connection.system,
        exporter.client,
        exported,
        ledger_documents(ledger),
    )
