"""A line's tax description follows its rate; the customer's treatment constrains the rate."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest

from domain.changes import CustomerChanges, LineChanges
from domain.errors import TaxRateNotAllowed
from domain.line_tax import description_for
from domain.tax_treatment import TaxTreatment
from tests.helpers import customer

STANDARD = TaxTreatment.STANDARD


@pytest.mark.parametrize(
    ("rate", "base_description", "expected"),
    [
        ("0", "VAT 20%", "VAT 0%"),
        ("5", "VAT 20 %", "VAT 5 %"),
        ("7.5", "GST 20% (AU)", "GST 7.5% (AU)"),
        ("20", "VAT 20%", "VAT 20%"),  # the same rate: unchanged
        ("0", "Standard VAT", "Tax 0%"),  # nothing to rewrite: a plain default
        ("0", "VAT 17.5% then 20%", "Tax 0%"),  # names another rate first: not guessed at
    ],
)
def test_the_default_description_of_a_rate(rate, base_description, expected):
    found = description_for(
        D(rate), base_rate=D("20"), base_description=base_description, treatment=STANDARD
    )
    assert found == expected


def test_a_treatment_without_vat_describes_its_lines_by_its_label():
    found = description_for(
        D(0), base_rate=D(20), base_description="VAT 20%", treatment=TaxTreatment.EXEMPT
    )
    assert found == "Exempt"


def _draft_line(ledger, **line):
    invoice_id = ledger.create_invoice("ACME", "t")
    line_id = ledger.add_line(
        invoice_id, "t", description="Calls", quantity=D(1), unit_price=D("10"), **line
    )
    return invoice_id, line_id


def test_a_line_changed_to_zero_no_longer_reads_vat_20(memory_ledger):
    customer(memory_ledger, rate="20")
    invoice_id, line_id = _draft_line(memory_ledger)
    assert memory_ledger.invoice(invoice_id).line(line_id).tax_description == "VAT 20%"
    memory_ledger.edit_line(invoice_id, line_id, LineChanges(tax_rate=D(0)), "t")
    assert memory_ledger.invoice(invoice_id).line(line_id).tax_description == "VAT 0%"
    # a form sends the description back unchanged with the new rate: it still follows
    memory_ledger.edit_line(
        invoice_id, line_id, LineChanges(tax_rate=D(5), tax_description="VAT 0%"), "t"
    )
    assert memory_ledger.invoice(invoice_id).line(line_id).tax_description == "VAT 5%"
    # a new description given with the rate is kept as given
    memory_ledger.edit_line(
        invoice_id, line_id, LineChanges(tax_rate=D(0), tax_description="Zero-rated export"), "t"
    )
    line = memory_ledger.invoice(invoice_id).line(line_id)
    assert (line.tax_rate, line.tax_description) == (D(0), "Zero-rated export")
    # and editing the description alone changes only it
    memory_ledger.edit_line(invoice_id, line_id, LineChanges(tax_description="Export"), "t")
    assert memory_ledger.invoice(invoice_id).line(line_id).tax_description == "Export"


def test_a_line_added_at_another_rate_gets_that_rates_description(memory_ledger):
    customer(memory_ledger, rate="20")
    invoice_id, line_id = _draft_line(memory_ledger, tax_rate=D(5))
    assert memory_ledger.invoice(invoice_id).line(line_id).tax_description == "VAT 5%"
    other = memory_ledger.add_line(
        invoice_id,
        "t",
        description="Fee",
        quantity=D(1),
        unit_price=D(1),
        tax_rate=D(0),
        tax_description="Exempt: postage",
    )
    assert memory_ledger.invoice(invoice_id).line(other).tax_description == "Exempt: postage"


def test_a_package_line_takes_a_description_and_a_reverse_charge_customer_ignores_its_rate(
    memory_ledger,
):
    customer(memory_ledger, rate="20")
    memory_ledger.define_package(
        "t", name="Trunk", unit_price=D("20"), currency="GBP", tax_rate=D("5")
    )
    invoice_id = memory_ledger.create_invoice("ACME", "t")
    line_id = memory_ledger.add_package_line(invoice_id, "Trunk", "t", tax_description="VAT 5% (r)")
    assert memory_ledger.invoice(invoice_id).line(line_id).tax_description == "VAT 5% (r)"
    memory_ledger.register_customer(
        "t", account_number="BETA", name="Beta GmbH", tax_treatment="reverse_charge"
    )
    beta = memory_ledger.create_invoice("BETA", "t")
    beta_line = memory_ledger.add_package_line(beta, "Trunk", "t")
    line = memory_ledger.invoice(beta).line(beta_line)
    assert (line.tax_rate, line.tax_description) == (D(0), "Reverse charge")


def test_a_reverse_charge_customers_line_refuses_a_rate_and_writes_nothing(memory_ledger):
    memory_ledger.register_customer(
        "t", account_number="BETA", name="Beta GmbH", tax_treatment="reverse_charge"
    )
    invoice_id = memory_ledger.create_invoice("BETA", "t")
    version = memory_ledger.invoice(invoice_id).version
    with pytest.raises(TaxRateNotAllowed) as refused:
        memory_ledger.add_line(
            invoice_id, "t", description="x", quantity=D(1), unit_price=D(1), tax_rate=D(19)
        )
    assert refused.value.field == "tax_rate" and "reverse_charge" in str(refused.value)
    line_id = memory_ledger.add_line(
        invoice_id, "t", description="x", quantity=D(1), unit_price=D(1)
    )
    with pytest.raises(TaxRateNotAllowed):
        memory_ledger.edit_line(invoice_id, line_id, LineChanges(tax_rate=D(20)), "t")
    assert memory_ledger.invoice(invoice_id).version == version + 1


def test_issuing_refuses_lines_a_customer_who_became_exempt_cannot_carry(memory_ledger):
    customer(memory_ledger, rate="20")
    invoice_id, _ = _draft_line(memory_ledger)
    memory_ledger.change_customer(
        "ACME", CustomerChanges(tax_treatment="exempt"), "t", date(2026, 10, 1)
    )
    with pytest.raises(TaxRateNotAllowed) as refused:
        memory_ledger.issue_invoice(invoice_id, "t")
    assert "line 1 (Calls)" in str(refused.value)
    assert memory_ledger.invoice(invoice_id).state == "draft"


def test_the_issued_invoice_keeps_the_treatment_it_was_issued_under(memory_ledger):
    memory_ledger.register_customer(
        "t", account_number="BETA", name="Beta GmbH", tax_treatment="reverse_charge"
    )
    invoice_id = memory_ledger.create_invoice("BETA", "t")
    memory_ledger.add_line(invoice_id, "t", description="x", quantity=D(1), unit_price=D(1))
    number = memory_ledger.issue_invoice(invoice_id, "t")
    memory_ledger.change_customer(
        "BETA", CustomerChanges(tax_treatment="standard", tax_rate=D(20)), "t", date(2026, 10, 2)
    )
    billing = memory_ledger.invoice(number).billing
    assert billing is not None and billing.tax_treatment is TaxTreatment.REVERSE_CHARGE


def test_billing_run_package_lines_of_a_reverse_charge_customer_carry_zero():
    from datetime import date as day
    from uuid import uuid4

    from domain.customer import Assignment
    from domain.package import PackageTerms
    from domain.usage import Period, package_lines

    terms = PackageTerms(
        name="Trunk",
        currency="GBP",
        unit_price=D("120"),
        tax_rate=D("20"),
        tax_description="VAT 20%",
    )
    assigned = Assignment(
        assignment_id=uuid4(), package_id=uuid4(), quantity=D(1), start_date=day(2026, 9, 1)
    )
    october = Period.month("2026-10")
    args = (uuid4(), october, [assigned], {assigned.package_id: terms})
    standard = package_lines(*args, D(5), "VAT 5%")
    reverse = package_lines(*args, D(0), "Reverse charge", TaxTreatment.REVERSE_CHARGE)
    assert [(ln.tax_rate, ln.tax_description) for ln in standard] == [(D(20), "VAT 20%")]
    assert [(ln.tax_rate, ln.tax_description) for ln in reverse] == [(D(0), "Reverse charge")]
