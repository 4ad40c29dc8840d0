"""Each accounting system is sent the tax type of the customer's treatment and the line's
rate, and the tax amounts of the invoice's rounding mode (docs/exports.md, "Tax types")."""

from __future__ import annotations

from decimal import Decimal as D

from domain.changes import SettingsChanges
from tests.fakes import views
from tests.integration.accounting.helpers import connection_to


def _customers(ledger) -> None:
    ledger.register_customer(
        "t",
        account_number="ACME",
        name="Acme Ltd",
        currency="GBP",
        tax_rate=D("20"),
        tax_description="VAT 20%",
        payment_terms_days=14,
    )
    for account, treatment in (
        ("BETA", "reverse_charge"),
        ("GAMMA", "exempt"),
        ("DELTA", "outside_scope"),
        ("ZETA", "zero_rated"),
    ):
        ledger.register_customer(
            "t",
            account_number=account,
            name=f"{account} GmbH",
            currency="GBP",
            tax_treatment=treatment,
            payment_terms_days=14,
        )


def _issue(ledger, account: str, *lines: tuple[str, str]) -> str:
    invoice_id = ledger.create_invoice(account, "t")
    for n, (price, rate) in enumerate(lines):
        ledger.add_line(
            invoice_id,
            "t",
            description=f"Service {n}",
            quantity=D(1),
            unit_price=D(price),
            tax_rate=D(rate),
        )
    return ledger.issue_invoice(invoice_id, "t")


# per line 20.01 + 20.01 + 13.39 = 53.41; per rate round(267.00 x 20 %) = 53.40
PRICES = (("100.03", "20"), ("100.03", "20"), ("66.94", "20"))


def test_xero_gets_the_tax_type_of_the_treatment_and_of_the_rate(ledger, xero, make_exporter):
    _customers(ledger)
    numbers = {
        "ACME": _issue(ledger, "ACME", ("10.00", "20"), ("5.00", "0")),
        **{a: _issue(ledger, a, ("10.00", "0")) for a in ("BETA", "GAMMA", "DELTA", "ZETA")},
    }
    report = make_exporter(ledger, connection_to(xero)).run()
    assert [i for i in report.items if i.outcome == "dead"] == []
    types = {
        i["InvoiceNumber"]: [line["TaxType"] for line in i["LineItems"]]
        for i in xero.invoices.values()
    }
    assert types == {
        numbers["ACME"]: ["OUTPUT2", "ZERORATEDOUTPUT"],
        numbers["BETA"]: ["ECZROUTPUTSERVICES"],
        numbers["GAMMA"]: ["EXEMPTOUTPUT"],
        numbers["DELTA"]: ["NONE"],
        numbers["ZETA"]: ["ZERORATEDOUTPUT"],
    }


def test_xero_without_a_treatments_tax_type_is_a_dead_letter_naming_the_setting(
    ledger, xero, make_exporter
):
    _customers(ledger)
    number = _issue(ledger, "BETA", ("10.00", "0"))
    mapping = {"tax_types": {"20": "OUTPUT2", "0": "ZERORATEDOUTPUT"}, "treatment_tax_types": {}}
    exporter = make_exporter(ledger, connection_to(xero, mapping=mapping))
    exporter.run()
    (dead,) = [d for d in exporter.store.dead_letters("xero") if d.label == number]
    assert "treatment_tax_types" in dead.error and "reverse_charge" in dead.error


def test_per_invoice_rate_totals_reach_xero_and_clear_books_to_the_penny(
    ledger, xero, clearbooks, make_exporter
):
    _customers(ledger)
    ledger.change_settings(SettingsChanges(tax_rounding="per_invoice_rate"), "t")
    number = _issue(ledger, "ACME", *PRICES)
    assert ledger.invoice(number).totals.tax == D("53.40")
    for fake in (xero, clearbooks):
        report = make_exporter(ledger, connection_to(fake)).run()
        assert [i for i in report.items if i.outcome == "dead"] == []
        assert views.invoices(fake)[number] == D("320.40")
    # Xero is sent the tax amounts (one line a penny under its own per-line figure)
    assert len(xero.tax_overrides) == 1
    (invoice,) = [i for i in clearbooks.invoices.values() if i["type"] == "sales"]
    assert [item["vatRate"] for item in invoice["items"]].count("Manual") == 1


def test_clear_books_vat_treatment_by_description_then_treatment(ledger, clearbooks, make_exporter):
    _customers(ledger)
    beta = _issue(ledger, "BETA", ("10.00", "0"))
    delta = _issue(ledger, "DELTA", ("10.00", "0"))
    acme = _issue(ledger, "ACME", ("10.00", "20"))
    # an existing (#15) description entry still decides; a treatment entry comes next
    mapping = {"vat_treatments": {"Reverse charge": "SEU", "outside_scope": "SOEU"}}
    report = make_exporter(ledger, connection_to(clearbooks, mapping=mapping)).run()
    assert [i for i in report.items if i.outcome == "dead"] == []
    codes = {
        clearbooks.number(n): i["vatTreatment"]
        for n, i in clearbooks.invoices.items()
        if i["type"] == "sales"
    }
    assert codes == {beta: "SEU", delta: "SOEU", acme: "UK"}


def test_freshbooks_prints_the_wording_and_refuses_a_tax_it_cannot_compute(
    ledger, freshbooks, make_exporter
):
    _customers(ledger)
    beta = _issue(ledger, "BETA", ("10.00", "0"))
    ledger.change_settings(SettingsChanges(tax_rounding="per_invoice_rate"), "t")
    per_rate = _issue(ledger, "ACME", *PRICES)
    exporter = make_exporter(ledger, connection_to(freshbooks))
    exporter.run()
    (sent,) = [i for i in freshbooks.invoices.values() if i["invoice_number"] == beta]
    assert "Reverse charge: customer to account for VAT" in sent["notes"]
    assert sent["lines"][0].get("taxAmount1") in (None, "0", 0)
    (dead,) = [d for d in exporter.store.dead_letters("freshbooks") if d.label == per_rate]
    assert "takes no tax amount" in dead.error
