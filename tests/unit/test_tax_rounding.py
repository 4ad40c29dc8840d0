"""The two tax rounding modes: totals, tax summary, line shares, and when a mode applies."""

from __future__ import annotations

from decimal import Decimal as D
from uuid import NAMESPACE_URL, uuid5

import pytest

from domain.changes import SettingsChanges
from domain.errors import InvalidInput
from domain.invoice_line import InvoiceLine, line_taxes, totals_of


def _line(n: int, price: str, rate: str = "20") -> InvoiceLine:
    return InvoiceLine(
        line_id=uuid5(NAMESPACE_URL, f"line-{n}"),
        description=f"Line {n}",
        quantity=D(1),
        unit_price=D(price),
        tax_rate=D(rate),
    )


# 100.03 + 100.03 + 66.94 = 267.00 at 20 %: per line 20.01 + 20.01 + 13.39 = 53.41,
# per rate round(267.00 x 20 %) = 53.40 (the issue's example). 10.05 + 10.05 at 5 %: per line
# 0.50 + 0.50 = 1.00 (0.5025 each), per rate round(20.10 x 5 %) = round(1.005) = 1.01.
LINES = [
    _line(1, "100.03"),
    _line(2, "100.03"),
    _line(3, "66.94"),
    *(_line(n, "10.05", "5") for n in (4, 5)),
]


def test_per_line_sums_the_rounded_line_taxes():
    totals = totals_of(LINES, "GBP", "per_line")
    assert totals.tax_by_rate == {"20": (D("267.00"), D("53.41")), "5": (D("20.10"), D("1.00"))}
    assert (totals.net, totals.tax, totals.total) == (D("287.10"), D("54.41"), D("341.51"))


def test_per_invoice_rate_rounds_the_tax_of_each_rate_once():
    totals = totals_of(LINES, "GBP", "per_invoice_rate")
    assert totals.tax_by_rate == {"20": (D("267.00"), D("53.40")), "5": (D("20.10"), D("1.01"))}
    assert (totals.tax, totals.total) == (D("54.41"), D("341.51"))
    for rate, (net, tax) in totals.tax_by_rate.items():
        # the summary is arithmetically true: tax = round(net x rate)
        assert tax == (net * D(rate) / 100).quantize(D("0.01"), rounding="ROUND_HALF_UP")


@pytest.mark.parametrize("mode", ["per_line", "per_invoice_rate"])
def test_line_shares_add_up_to_each_rates_tax(mode):
    totals = totals_of(LINES, "GBP", mode)
    shares = line_taxes(LINES, "GBP", mode)
    for rate, (_, tax) in totals.tax_by_rate.items():
        assert sum(shares[ln.line_id] for ln in LINES if ln.tax_rate == D(rate)) == tax
    for line in LINES:
        # no share is more than one minor unit off the line's own rounded tax
        assert abs(shares[line.line_id] - line.tax("GBP")) <= D("0.01")


def test_shares_in_a_currency_without_minor_units():
    lines = [_line(n, "333", "10") for n in range(3)]  # 33.3 JPY each, 99.9 -> 100
    shares = line_taxes(lines, "JPY", "per_invoice_rate")
    assert sorted(shares.values()) == [D(33), D(33), D(34)]
    assert totals_of(lines, "JPY", "per_invoice_rate").tax == D(100)
    assert totals_of(lines, "JPY", "per_line").tax == D(99)


def test_the_setting_changes_only_invoices_issued_after(memory_ledger):
    from tests.helpers import customer

    customer(memory_ledger, rate="20")

    def invoice() -> str:
        draft = memory_ledger.create_invoice("ACME", "t")
        for price in ("100.03", "100.03", "66.94"):
            memory_ledger.add_line(draft, "t", description="x", quantity=D(1), unit_price=D(price))
        return memory_ledger.issue_invoice(draft, "t")

    before = invoice()
    drafted_per_line = memory_ledger.create_invoice("ACME", "t")
    memory_ledger.add_line(
        drafted_per_line, "t", description="x", quantity=D(1), unit_price=D("100.03")
    )
    memory_ledger.change_settings(SettingsChanges(tax_rounding="per_invoice_rate"), "t")
    after = invoice()
    assert memory_ledger.invoice(before).totals.tax == D("53.41")
    assert memory_ledger.invoice(before).tax_rounding == "per_line"
    assert memory_ledger.invoice(after).totals.tax == D("53.40")
    assert memory_ledger.invoice(after).tax_rounding == "per_invoice_rate"
    # a draft opened before the change is issued in the mode in force at its issue
    issued = memory_ledger.issue_invoice(drafted_per_line, "t")
    assert memory_ledger.invoice(issued).tax_rounding == "per_invoice_rate"
    # changing back never rewrites what was issued
    memory_ledger.change_settings(SettingsChanges(tax_rounding="per_line"), "t")
    assert memory_ledger.invoice(after).totals.tax == D("53.40")
    # a full credit follows the invoice's own mode: it cancels it to the penny
    memory_ledger.issue_credit_note(after, "t", "cancelled", full=True)
    assert memory_ledger.invoice(after).outstanding == 0


@pytest.mark.parametrize("bad", ["", "per_rate", "PER_LINE", "per line", 1])
def test_an_unknown_rounding_mode_is_refused(bad):
    with pytest.raises(InvalidInput) as refused:
        SettingsChanges.model_validate({"tax_rounding": bad})
    assert refused.value.field == "tax_rounding"
