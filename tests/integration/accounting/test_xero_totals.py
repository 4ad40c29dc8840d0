"""Xero's total of every exported invoice and credit note is the ledger's, to the penny.

Through the real client (xero-python SDK, JSON floats on the wire) against the fake Xero, which
computes as Xero documents: Quantity and UnitAmount to 4 dp, LineAmount rounded to 2 dp, tax per
line, totals summed from lines. The final payment of each invoice is the ledger's outstanding
amount: Xero would refuse it if its total were a penny short.
"""

from __future__ import annotations

import itertools
from decimal import ROUND_DOWN
from decimal import Decimal as D

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.credit_note import CreditLine
from tests.fakes import views
from tests.integration.accounting.helpers import connection_to

_accounts = itertools.count(1)

quantities = st.decimals(min_value=D("0.0001"), max_value=D("100000"), places=4) | st.decimals(
    min_value=D("1"), max_value=D("5000"), places=0
)
prices = st.integers(min_value=4, max_value=6).flatmap(
    lambda places: st.decimals(min_value=D("0.0001"), max_value=D("50"), places=places)
)
lines_strategy = st.lists(
    st.tuples(quantities, prices, st.sampled_from(["20", "5"])), min_size=1, max_size=4
)
MAPPING = {"tax_types": {"20": "OUTPUT2", "5": "RROUTPUT"}}


def _customer(ledger) -> str:
    account = f"P{next(_accounts):04d}"
    ledger.register_customer(
        "t",
        account_number=account,
        name=f"Property Telecom {account}",
        currency="GBP",
        tax_rate=D("20"),
        tax_description="VAT 20%",
        payment_terms_days=14,
    )
    return account


def _issue(ledger, account, specs) -> str:
    invoice_id = ledger.create_invoice(account, "t")
    for index, (quantity, price, rate) in enumerate(specs):
        ledger.add_line(
            invoice_id,
            "t",
            description=f"Calls band {index}",
            quantity=quantity,
            unit_price=price,
            tax_rate=D(rate),
            tax_description=f"VAT {rate}%",
        )
    return ledger.issue_invoice(invoice_id, "t")


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(specs=lines_strategy, share=st.decimals(min_value=D("0.01"), max_value=D("1"), places=2))
def test_remote_totals_equal_the_ledgers_for_invoices_and_credit_notes(
    specs, share, ledger, xero, make_exporter
):
    account = _customer(ledger)
    number = _issue(ledger, account, specs)
    quantity, price, rate = specs[0]
    credited = (quantity * share).quantize(D("0.0001"), rounding=ROUND_DOWN)
    note = None
    if credited > 0 and ledger.invoice(number).totals.total > 0:
        line = {
            "description": "Credit for calls band 0",
            "quantity": credited,
            "unit_price": price,
            "tax_rate": D(rate),
            "tax_description": f"VAT {rate}%",
        }
        try:
            note = ledger.issue_credit_note(
                number, "t", "dropped calls", lines=[CreditLine.model_validate(line)]
            )
        except Exception:  # a credit that rounds to nothing is refused by the ledger
            note = None
    outstanding = ledger.invoice(number).outstanding
    if outstanding > 0:
        payment = ledger.record_payment(account, "t", amount=outstanding, status="completed")
        ledger.allocate(payment, [(number, outstanding)], "t")

    report = make_exporter(ledger, connection_to(xero, mapping=MAPPING)).run()

    assert [i for i in report.items if i.outcome == "dead"] == []
    invoice = next(i for i in xero.invoices.values() if i["InvoiceNumber"] == number)
    assert invoice["Total"] == ledger.invoice(number).totals.total
    assert invoice["AmountDue"] == 0
    if note is not None:
        remote = next(n for n in xero.credit_notes.values() if n["CreditNoteNumber"] == note)
        assert remote["Total"] == ledger.credit_note(note).totals.total
    assert xero.tax_overrides == []  # the tax we send is Xero's own per-line figure
    assert views.payments(xero).get(number, D(0)) == (outstanding if outstanding > 0 else 0)


def test_the_issues_invoice_pays_off_in_xero_to_the_penny(ledger, xero, make_exporter):
    account = _customer(ledger)
    number = _issue(
        ledger, account, [(D("1234.5"), D("0.012345"), "20"), (D("777.25"), D("0.04565"), "20")]
    )
    total = ledger.invoice(number).totals.total
    first = ledger.record_payment(account, "t", amount=D("20.00"), status="completed")
    ledger.allocate(first, [(number, D("20.00"))], "t")
    final = ledger.record_payment(account, "t", amount=total - D("20.00"), status="completed")
    ledger.allocate(final, [(number, total - D("20.00"))], "t")
    exporter = make_exporter(ledger, connection_to(xero, mapping=MAPPING))

    report = exporter.run()

    assert [i.outcome for i in report.items] == ["exported"] * 4
    # Sent as priced, Xero would book 1234.5 x 0.0123 and 777.25 x 0.0457: 60.84, and refuse
    # the final payment as above the amount due.
    assert views.invoices(xero)[number] == total == D("60.87")
    assert views.payments(xero)[number] == total
    assert exporter.store.reconciliation("xero") == []
    assert exporter.store.dead_letters("xero") == []


def test_credit_note_lines_book_to_the_account_of_the_lines_they_credit(
    ledger, xero, make_exporter
):
    account = _customer(ledger)
    ledger.define_package("t", name="DID", unit_price=D("1.50"), currency="GBP")
    ledger.define_package("t", name="Trunk", unit_price=D("20"), currency="GBP")
    mixed = ledger.create_invoice(account, "t")
    ledger.add_package_line(mixed, "DID", "t", quantity=D("10"))
    ledger.add_package_line(mixed, "Trunk", "t", quantity=D("1"), setup=True)
    ledger.add_line(mixed, "t", description="Calls", quantity=D("1"), unit_price=D("9"))
    mixed_number = ledger.issue_invoice(mixed, "t")
    only_packages = ledger.create_invoice(account, "t")
    ledger.add_package_line(only_packages, "DID", "t", quantity=D("4"))
    packages_number = ledger.issue_invoice(only_packages, "t")
    by_line = ledger.issue_credit_note(
        mixed_number,
        "t",
        "two numbers never ported",
        lines=[
            CreditLine.model_validate(
                {
                    "description": "DID",
                    "quantity": D("2"),
                    "unit_price": D("1.50"),
                    "tax_rate": D("20"),
                    "tax_description": "VAT 20%",
                }
            ),
            CreditLine.model_validate(
                {
                    "description": "Trunk (setup)",
                    "quantity": D("1"),
                    "unit_price": D("5"),
                    "tax_rate": D("20"),
                    "tax_description": "VAT 20%",
                }
            ),
        ],
    )
    by_amount = ledger.issue_credit_note(packages_number, "t", "goodwill", amount=D("1.00"))
    accounts = {"usage": "200", "package": "201", "setup": "260"}
    exporter = make_exporter(
        ledger,
        connection_to(xero, mapping={**MAPPING, "sales_account": "200", "accounts": accounts}),
    )

    exporter.run()

    codes = {
        n["CreditNoteNumber"]: [line["AccountCode"] for line in n["LineItems"]]
        for n in xero.credit_notes.values()
    }
    assert codes == {by_line: ["201", "260"], by_amount: ["201"]}
    invoice_codes = [
        [line["AccountCode"] for line in i["LineItems"]]
        for i in xero.invoices.values()
        if i["InvoiceNumber"] == mixed_number
    ]
    assert invoice_codes == [["201", "260", "200"]]
