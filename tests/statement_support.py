"""The worked case of docs/statements.md, recorded through the ledger: October before the
period (an invoice partly paid), November the period (invoices, a credit note, a payment across
two invoices with credit left over, a refund, a void, an un-allocation)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal as D

ACTOR = "t"


def on(clock, day: str) -> None:
    clock.set(datetime.fromisoformat(f"{day}T10:00:00+00:00"))


def issue(ledger, amount: str) -> str:
    invoice_id = ledger.create_invoice("ACME", ACTOR)
    ledger.add_line(invoice_id, ACTOR, description="Voice", quantity=D(1), unit_price=D(amount))
    return ledger.issue_invoice(invoice_id, ACTOR)


def paid(ledger, amount: str, reference: str) -> str:
    return str(ledger.record_payment("ACME", ACTOR, amount=D(amount), reference=reference,
                                     status="completed"))  # fmt: skip


def worked_case(ledger, clock) -> dict[str, str]:
    on(clock, "2026-10-01")
    ledger.register_customer(ACTOR, account_number="ACME", name="Acme Calls Ltd",
                             currency="GBP", tax_rate=D(0), payment_terms_days=14)  # fmt: skip
    a = issue(ledger, "100.00")  # due 15 Oct
    on(clock, "2026-10-05")
    p1 = paid(ledger, "60.00", "ACME-OCT")
    ledger.allocate(p1, [(a, D("60.00"))], ACTOR)  # partly paid
    on(clock, "2026-11-02")
    b = issue(ledger, "200.00")  # due 16 Nov
    c = issue(ledger, "50.00")  # due 16 Nov
    on(clock, "2026-11-03")
    note = ledger.issue_credit_note(c, ACTOR, "dropped calls", amount=D("20.00"))
    on(clock, "2026-11-10")
    p2 = paid(ledger, "300.00", "ACME-NOV#bank 42")
    ledger.allocate(p2, [(a, D("40.00")), (b, D("200.00"))], ACTOR)  # across two invoices
    on(clock, "2026-11-12")
    ledger.refund_payment(p2, D("25.00"), ACTOR)  # of the 60.00 left over
    on(clock, "2026-11-14")
    d = issue(ledger, "10.00")
    on(clock, "2026-11-15")
    ledger.void_invoice(d, ACTOR, "issued in error")
    on(clock, "2026-11-20")
    ledger.unallocate(p2, a, D("40.00"), ACTOR, "belongs to another account")
    on(clock, "2026-12-01")
    return {"a": a, "b": b, "c": c, "d": d, "note": note, "p1": p1, "p2": p2}


def one_invoice(ledger, clock) -> str:
    """A customer with one invoice issued on 2 November 2026: enough for a refusal."""
    on(clock, "2026-11-02")
    ledger.register_customer(ACTOR, account_number="ACME", name="Acme Calls Ltd",
                             currency="GBP", tax_rate=D(0), payment_terms_days=14)  # fmt: skip
    return issue(ledger, "100.00")
