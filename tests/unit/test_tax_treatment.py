"""Customers' tax treatments: the values, their wording, the rates they allow."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest

from domain.changes import CustomerChanges
from domain.customer import Customer, CustomerProfile
from domain.errors import TaxRateNotAllowed, UnknownTaxTreatment
from domain.tax_treatment import TaxTreatment, check_rate, tax_treatment
from tests.helpers import customer


def test_the_treatments_are_the_five_the_issue_names():
    assert [t.value for t in TaxTreatment] == [
        "standard",
        "zero_rated",
        "exempt",
        "reverse_charge",
        "outside_scope",
    ]


def test_each_treatment_without_vat_has_wording_that_names_its_legal_ground():
    assert TaxTreatment.STANDARD.legal_wording == ""
    assert TaxTreatment.REVERSE_CHARGE.legal_wording.startswith("Reverse charge")
    assert "Article 196" in TaxTreatment.REVERSE_CHARGE.legal_wording
    assert "Articles 132-136" in TaxTreatment.EXEMPT.legal_wording
    assert "0%" in TaxTreatment.ZERO_RATED.legal_wording
    assert "Article 44" in TaxTreatment.OUTSIDE_SCOPE.legal_wording


@pytest.mark.parametrize("treatment", [t for t in TaxTreatment if t is not TaxTreatment.STANDARD])
def test_a_treatment_without_vat_refuses_a_non_zero_rate(treatment):
    assert check_rate(treatment, D("0")) == 0
    with pytest.raises(TaxRateNotAllowed) as refused:
        check_rate(treatment, D("20"))
    assert refused.value.field == "tax_rate"
    assert treatment.value in str(refused.value)


def test_standard_allows_any_rate():
    assert check_rate(TaxTreatment.STANDARD, D("20")) == 20


@pytest.mark.parametrize("bad", ["", "REVERSE", "reverse charge", "standard ", None, 3])
def test_an_unknown_treatment_is_refused_naming_the_values(bad):
    with pytest.raises(UnknownTaxTreatment) as refused:
        tax_treatment(bad)
    assert "reverse_charge" in str(refused.value)


def test_a_customer_stored_before_treatments_loads_as_standard():
    old = {
        "account_number": "OLD",
        "name": "Old Ltd",
        "currency": "GBP",
        "tax_rate": "20",
        "tax_description": "VAT 20%",
        "payment_terms_days": 30,
    }
    assert CustomerProfile.model_validate(old).tax_treatment is TaxTreatment.STANDARD


def test_registering_with_reverse_charge_takes_zero_and_its_label(memory_ledger):
    memory_ledger.register_customer(
        "t", account_number="BETA", name="Beta GmbH", tax_treatment="reverse_charge"
    )
    profile = memory_ledger.customer("BETA").latest
    assert profile.tax_treatment is TaxTreatment.REVERSE_CHARGE
    assert (profile.tax_rate, profile.tax_description) == (D(0), "Reverse charge")


def test_registering_reverse_charge_with_a_rate_is_refused_and_writes_nothing(memory_ledger):
    with pytest.raises(TaxRateNotAllowed):
        memory_ledger.register_customer(
            "t",
            account_number="BETA",
            name="Beta GmbH",
            tax_treatment="reverse_charge",
            tax_rate=D("19"),
        )
    assert list(memory_ledger.all_events()) == []


def test_changing_to_exempt_sets_zero_and_back_to_standard_keeps_it(memory_ledger):
    customer(memory_ledger, rate="20")
    memory_ledger.change_customer(
        "ACME", CustomerChanges(tax_treatment="exempt"), "t", date(2026, 10, 1)
    )
    found: Customer = memory_ledger.customer("ACME")
    profile = found.profile_on(date(2026, 10, 1))
    assert (profile.tax_treatment, profile.tax_rate, profile.tax_description) == (
        TaxTreatment.EXEMPT,
        D(0),
        "Exempt",
    )
    # before the change the customer was standard at 20 %
    assert found.profile_on(date(2026, 9, 30)).tax_rate == 20
    memory_ledger.change_customer(
        "ACME",
        CustomerChanges(tax_treatment="standard", tax_rate=D("20"), tax_description="VAT 20%"),
        "t",
        date(2026, 11, 1),
    )
    assert memory_ledger.customer("ACME").latest.tax_treatment is TaxTreatment.STANDARD


def test_a_treatment_change_with_a_non_zero_rate_is_refused(memory_ledger):
    customer(memory_ledger, rate="20")
    with pytest.raises(TaxRateNotAllowed):
        memory_ledger.change_customer(
            "ACME", CustomerChanges(tax_treatment="zero_rated", tax_rate=D("20")), "t"
        )
    with pytest.raises(UnknownTaxTreatment):
        CustomerChanges.model_validate({"tax_treatment": "sometimes"})


def test_documents_stored_before_treatments_and_rounding_modes_load_with_the_old_meaning():
    from domain.invoice import BillingSnapshot, Invoice
    from domain.numbering import NumberSequence

    snapshot = BillingSnapshot.model_validate(
        {
            "customer_name": "Old",
            "customer_account": "OLD",
            "billing_address": "",
            "customer_tax_number": "",
            "seller_name": "Seller",
            "seller_address": "",
            "seller_tax_number": "",
        }
    )
    assert snapshot.tax_treatment is TaxTreatment.STANDARD
    assert Invoice.Issued.model_fields["tax_rounding"].default == "per_line"
    assert Invoice.Drafted.model_fields["tax_rounding"].default == "per_line"
    assert NumberSequence.NumberTaken.model_fields["document_date"].default is None
