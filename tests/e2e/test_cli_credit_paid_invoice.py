"""Crediting a partly paid invoice in full from the CLI: the paid part becomes credit."""

from __future__ import annotations

from tests.e2e.test_cli_billing_cycle import new_invoice, setup_customer


def test_the_cli_credits_a_partly_paid_invoice_in_full(tollbook):
    setup_customer(tollbook)
    invoice_id = new_invoice(tollbook)
    tollbook("invoice", "line", "add", invoice_id, "--package", "SIP Trunk")
    tollbook("invoice", "issue", invoice_id)  # 144.00
    payment = tollbook("payment", "add", "ACME", "--amount", "100", "--completed", "--json")
    payment_id = payment.json()["id"]
    tollbook("payment", "allocate", payment_id, "INV-2026-000001=100.00")

    note = tollbook(
        "credit-note", "new", "INV-2026-000001", "--full", "--reason", "cancelled", "--json"
    )

    assert note.code == 0 and note.json()["total"] == "144.00"
    shown = tollbook("invoice", "show", "INV-2026-000001", "--json").json()
    assert (shown["status"], shown["outstanding"]) == ("credited", "0.00")
    assert tollbook("payment", "show", payment_id, "--json").json()["unallocated"] == "100.00"
    assert tollbook("balance", "--json").json()[0]["unallocated"] == "100.00"
