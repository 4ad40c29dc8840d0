"""Prepaid customers through the command line, as docs/money.md's worked example does it:
top-ups, credit applied when an invoice is issued, and the low-balance notice."""

from __future__ import annotations

import pytest

from domain.customer import Customer


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)  # the ledger's own tests do both
def test_the_worked_example_applies_credit_on_issue_and_says_so(tollbook, ledger) -> None:
    def ok(*args: str):
        result = tollbook(*args)
        assert result.code == 0, result.err
        return result

    ok("customer", "add", "ACME", "--name", "Acme", "--currency", "GBP", "--tax-rate", "20")
    ok(
        "customer", "update", "ACME", "--auto-apply-credit",
        "--low-balance-threshold", "50.00 GBP",
    )  # fmt: skip
    for amount, key, day in (("200", "bank:p1", "2026-11-03"), ("100", "bank:p2", "2026-11-10")):
        ok("payment", "add", "ACME", "--amount", amount, "--completed",
           "--idempotency-key", key, "--date", day)  # fmt: skip
    said = []
    for net in ("100.00", "125.00", "10.00"):
        invoice = ok("invoice", "new", "ACME", "--json").json()["id"]
        ok("invoice", "line", "add", invoice, "--description", "Trunk", "--unit-price", net)
        said.append(ok("invoice", "issue", invoice).out.strip())

    assert said == [
        "issued INV-2026-000001: 120.00 GBP of customer credit applied, 0.00 GBP outstanding",
        "issued INV-2026-000002: 150.00 GBP of customer credit applied, 0.00 GBP outstanding",
        "issued INV-2026-000003: 12.00 GBP of customer credit applied, 0.00 GBP outstanding",
    ]
    (balance,) = ok("balance", "--json").json()
    assert balance["unallocated"] == "18.00"
    lows = [
        e for e in ledger.events_of(ledger.customer("ACME").id)
        if isinstance(e, Customer.PrepaidBalanceLow)
    ]  # fmt: skip
    assert [(str(e.balance), str(e.previous_balance)) for e in lows] == [("30.00", "180.00")]

    # without credit the words are as before
    ok("customer", "add", "BETA", "--name", "Beta", "--currency", "GBP")
    invoice = ok("invoice", "new", "BETA", "--json").json()["id"]
    ok("invoice", "line", "add", invoice, "--description", "Trunk", "--unit-price", "1")
    assert ok("invoice", "issue", invoice).out.strip() == "issued INV-2026-000004"
