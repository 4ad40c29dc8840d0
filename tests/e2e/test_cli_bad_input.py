"""Every refused command: one clear line on stderr, a specific non-zero exit, nothing written."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from tests.helpers import completed_payment, customer, event_count, issued_invoice

RULE, INPUT, NOT_FOUND = 1, 2, 3


@pytest.fixture
def world(make_ledger):
    ledger = make_ledger()
    customer(ledger, "ACME", "GBP")
    customer(ledger, "OTHER", "GBP")
    customer(ledger, "EURO", "EUR")
    ledger.define_package("t", name="Trunk", unit_price=D("10"), currency="GBP")
    issued = issued_invoice(ledger, "ACME", net="100.00")  # INV-2026-000001, 120.00
    issued_invoice(ledger, "OTHER", net="10.00")  # INV-2026-000002
    issued_invoice(ledger, "EURO", net="10.00")  # INV-2026-000003
    voided = issued_invoice(ledger, "ACME", net="5.00")  # INV-2026-000004
    ledger.void_invoice(voided, "t", "test")
    draft = ledger.create_invoice("ACME", "t")
    paid = completed_payment(ledger, "ACME", "50.00")
    ledger.allocate(paid, [(issued, D("10.00"))], "t")
    pending = ledger.record_payment("ACME", "t", amount=D("30"), idempotency_key="bank:77")
    cancelled = ledger.record_payment("ACME", "t", amount=D("30"))
    ledger.cancel_payment(cancelled, "t", "bounced")
    return {
        "ledger": ledger,
        "draft": str(draft),
        "paid": str(paid),
        "pending": str(pending),
        "cancelled": str(cancelled),
    }


CASES = [
    # (command with {placeholders}, exit code, words in the message)
    ("invoice new NOBODY", NOT_FOUND, "unknown customer 'NOBODY'"),
    ("invoice show INV-2099-000001", NOT_FOUND, "unknown invoice"),
    ("payment complete 00000000-0000-0000-0000-000000000000", NOT_FOUND, "unknown payment"),
    ("invoice line add INV-2026-000001 --description X --unit-price 1", RULE, "cannot change"),
    ("invoice line edit INV-2026-000001 1 --quantity 2", RULE, "cannot change"),
    ("invoice line remove INV-2026-000001 1", RULE, "cannot change"),
    ("invoice line add INV-2026-000004 --description X --unit-price 1", RULE, "is void"),
    ("invoice issue {draft}", RULE, "no lines"),
    ("invoice issue INV-2026-000001", RULE, "already issued"),
    (
        "invoice line add {draft} --description X --unit-price 1 --quantity 0",
        INPUT,
        "greater than zero",
    ),
    ("invoice line add {draft} --description X --unit-price -1", INPUT, "negative"),
    ("payment add ACME --amount 0", INPUT, "greater than zero"),
    ("payment add ACME --amount -5", INPUT, "greater than zero"),
    ("payment allocate {paid} INV-2026-000001=40.01", RULE, "exceeds the 40.00"),
    ("payment add ACME --amount 500 --completed", None, None),  # (control: works)
    ("payment allocate {paid} INV-2026-000001=0", INPUT, "greater than zero"),
    ("payment allocate {pending} INV-2026-000001=1", RULE, "pending"),
    ("payment allocate {cancelled} INV-2026-000001=1", RULE, "cancelled"),
    ("payment allocate {paid} INV-2026-000002=1", RULE, "never cross customers"),
    ("payment add ACME --amount 10 --currency EUR", RULE, "billed in GBP"),
    ("payment allocate {paid} INV-2026-000003=1", RULE, "never cross customers"),
    ("invoice void INV-2026-000001 --reason oops", RULE, "unallocate"),
    ("invoice new ACME --date 2026-13-01", INPUT, "ISO date"),
    ("invoice new ACME --date 31/10/2026", INPUT, "ISO date"),
    ("payment add ACME --amount 12,50", INPUT, "plain decimal"),
    ("payment add ACME --amount 1e3", INPUT, "plain decimal"),
    ("payment add ACME --amount NaN", INPUT, "plain decimal"),
    ("payment add ACME --amount 12.505", INPUT, "more decimals"),
    ("customer add NEW --name New --currency XYZ", INPUT, "unknown currency"),
    ("payment add ACME --amount 30 --idempotency-key bank:77", RULE, "already used"),
    ("invoice show INV-2026-000001 --as-of yesterday", INPUT, "ISO 8601"),
    ("credit-note new INV-2026-000001 --amount 100.01 --reason r", RULE, "exceeds"),
    ("payment refund {paid} 40.01", RULE, "exceeds"),
]


@pytest.mark.parametrize(("command", "code", "words"), CASES, ids=[c[0] for c in CASES])
def test_refused_commands_say_why_and_write_nothing(tollbook, world, command, code, words):
    ledger = world["ledger"]
    before = event_count(ledger)
    result = tollbook(*command.format(**world).split())
    if code is None:
        assert result.code == 0, result.err
        return
    assert result.code == code, (result.code, result.err)
    assert result.err.startswith("error: ") and len(result.err.strip().splitlines()) == 1
    assert words in result.err
    assert event_count(ledger) == before
