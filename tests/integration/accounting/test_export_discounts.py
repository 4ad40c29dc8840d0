"""Discounted invoices in each accounting system: sent in a form the system accepts, and its
own arithmetic gives the ledger's total (SQLite and PostgreSQL)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from tests.fakes import views
from tests.integration.accounting.helpers import connection_to, reconcile_exported

SYSTEMS = ["xero", "clearbooks", "freshbooks"]


def discounted_invoice(ledger) -> tuple[str, D]:
    """An invoice with a line discount and an invoice discount over two tax rates, issued."""
    ledger.register_customer(
        "t",
        account_number="ACME",
        name="Acme Telecom Ltd",
        currency="GBP",
        tax_rate=D("20"),
        tax_description="VAT 20%",
        payment_terms_days=14,
    )
    invoice_id = ledger.create_invoice("ACME", "t")
    ledger.add_line(invoice_id, "t", description="SIP Trunk", quantity=D(2), unit_price=D("60"))
    ledger.add_line(
        invoice_id, "t", description="Calls", quantity=D("1234.5"), unit_price=D("0.0123"),
        tax_rate=D(0), tax_description="Zero rated",
    )  # fmt: skip
    ledger.add_discount(invoice_id, "t", percent=D("12.5"), line_ref="1")
    ledger.add_discount(invoice_id, "t", amount=D("7.77"))
    number = ledger.issue_invoice(invoice_id, "t")
    return number, ledger.invoice(number).totals.total


@pytest.mark.parametrize("system", SYSTEMS)
def test_a_discounted_invoice_lands_at_the_ledgers_total(system, ledger, fakes, make_exporter):
    fake = fakes(system)
    number, total = discounted_invoice(ledger)
    # 20%: 120.00 - 15.00 - 6.79 = 98.21 net, 24.00 - 3.00 - 1.36 = 19.64 tax;
    # 0%: 15.18 - 0.98 (7.77 x 15.18 / 120.18) = 14.20
    assert total == D("132.05")

    # a full credit note copies the discount lines: negative lines on a credit note too
    note = ledger.issue_credit_note(number, "t", "cancelled order", full=True)
    exporter = make_exporter(ledger, connection_to(fake))

    report = exporter.run()

    assert [(i.outcome, i.error) for i in report.items if i.outcome != "exported"] == []
    assert views.invoices(fake) == {number: total}
    # read back through its own API (its totals from its line arithmetic, amounts due,
    # statuses): nothing differs
    result = reconcile_exported(exporter, ledger)
    assert sorted(c.number for c in result.checked) == sorted([number, note])
    assert result.differing == []
