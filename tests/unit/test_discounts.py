"""Discounts on a draft invoice: lines that follow their rule (domain/discount.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal as D
from uuid import UUID, uuid4

import pytest

from domain.aggregate import Stamp
from domain.changes import LineChanges
from domain.errors import InvalidInput, NotFound, OutOfRange
from domain.invoice import Invoice
from domain.invoice_line import Discount, InvoiceLine

STAMP = Stamp(actor="test", at=datetime(2026, 10, 1, tzinfo=UTC))


def line(price: str, rate: str = "20", quantity: str = "1", text: str = "Calls") -> InvoiceLine:
    return InvoiceLine(
        line_id=uuid4(),
        description=text,
        quantity=D(quantity),
        unit_price=D(price),
        tax_rate=D(rate),
        tax_description=f"VAT {rate}%",
    )


def draft(*lines: InvoiceLine, currency: str = "GBP") -> Invoice:
    return Invoice.draft(
        uuid4(),
        customer_id=uuid4(),
        customer_account="ACME",
        currency=currency,
        invoice_date=date(2026, 10, 31),
        due_date=date(2026, 11, 14),
        period_start=None,
        period_end=None,
        memo="",
        stamp=STAMP,
        lines=lines,
    )


def rule(percent: str | None = None, amount: str | None = None, on: UUID | None = None) -> Discount:
    return Discount(
        discount_id=uuid4(),
        percent=None if percent is None else D(percent),
        amount=None if amount is None else D(amount),
        applies_to=on,
    )


def discounts(invoice: Invoice) -> list[InvoiceLine]:
    return [line for line in invoice.lines.values() if line.kind == "discount"]


def test_a_percentage_of_a_line_reduces_the_taxable_amount_at_that_lines_rate() -> None:
    trunk, calls = line("120.00", "20", text="SIP Trunk"), line("50.00", "5")
    invoice = draft(trunk, calls)
    invoice.add_discount(rule(percent="12.5", on=trunk.line_id), STAMP)
    (granted,) = discounts(invoice)
    assert granted.net("GBP") == D("-15.00")
    assert granted.tax_rate == D("20") and granted.description == "Discount 12.5% on SIP Trunk"
    totals = invoice.totals
    assert totals.tax_by_rate["20"] == (D("105.00"), D("21.00"))
    assert totals.total == D("105.00") + D("21.00") + D("50.00") + D("2.50")


def test_an_invoice_amount_is_spread_over_the_tax_rates_and_adds_up_exactly() -> None:
    invoice = draft(line("100.00", "20"), line("50.00", "0"), line("0.01", "5"))
    invoice.add_discount(rule(amount="10.00"), STAMP)
    shares = {str(d.tax_rate): d.net("GBP") for d in discounts(invoice)}
    # 10 x 50/150.01 = 3.3331 -> 3.33; 10 x 0.01/150.01 -> 0.00; the largest takes the rest
    assert shares == {"20": D("-6.67"), "0": D("-3.33"), "5": D("0.00")}
    assert invoice.totals.net == D("150.01") - D("10.00")


def test_an_invoice_percentage_rounds_per_rate() -> None:
    invoice = draft(line("0.05", "20"), line("0.05", "0"))
    invoice.add_discount(rule(percent="10"), STAMP)
    assert sorted(d.net("GBP") for d in discounts(invoice)) == [D("-0.01"), D("-0.01")]


def test_discount_lines_follow_the_lines_they_discount() -> None:
    calls = line("100.00")
    invoice = draft(calls)
    invoice.add_discount(rule(percent="10"), STAMP)
    invoice.add_line(line("100.00"), STAMP)
    assert [d.net("GBP") for d in discounts(invoice)] == [D("-20.00")]
    invoice.edit_line(calls.line_id, LineChanges(unit_price=D("300.00")), STAMP)
    assert [d.net("GBP") for d in discounts(invoice)] == [D("-40.00")]


def test_removing_the_discounted_line_removes_its_discount() -> None:
    calls, other = line("100.00"), line("10.00")
    invoice = draft(calls, other)
    invoice.add_discount(rule(amount="5.00", on=calls.line_id), STAMP)
    invoice.remove_line(calls.line_id, STAMP)
    assert discounts(invoice) == [] and invoice.totals.net == D("10.00")


def test_removing_a_discount_line_removes_the_whole_discount() -> None:
    invoice = draft(line("100.00", "20"), line("100.00", "0"))
    invoice.add_discount(rule(percent="50"), STAMP)
    assert len(discounts(invoice)) == 2
    invoice.remove_line(discounts(invoice)[0].line_id, STAMP)
    assert discounts(invoice) == [] and invoice.totals.net == D("200.00")


def test_a_discount_line_cannot_be_edited_or_added_as_a_line() -> None:
    invoice = draft(line("100.00"))
    invoice.add_discount(rule(percent="50"), STAMP)
    (granted,) = discounts(invoice)
    with pytest.raises(InvalidInput, match="follows its rule"):
        invoice.edit_line(granted.line_id, LineChanges(unit_price=D("1")), STAMP)
    with pytest.raises(InvalidInput, match="own command"):
        invoice.add_line(granted.model_copy(update={"line_id": uuid4()}), STAMP)


@pytest.mark.parametrize(
    ("percent", "amount", "error", "message"),
    [
        ("100.0001", None, OutOfRange, "at most 100"),
        ("0", None, OutOfRange, "above 0"),
        ("-5", None, OutOfRange, "above 0"),
        ("12.12345", None, InvalidInput, "more than 4 decimal"),
        (None, "-1.00", InvalidInput, "greater than zero"),
        (None, "0.001", InvalidInput, "more decimals"),
        (None, "10000000000000", OutOfRange, "less than"),
        (None, "100.01", InvalidInput, "more than the 100.00 GBP"),
        ("10", "1.00", InvalidInput, "exactly one"),
        (None, None, InvalidInput, "exactly one"),
    ],
)
def test_bad_discounts_are_refused_and_write_nothing(
    percent: str | None, amount: str | None, error: type[Exception], message: str
) -> None:
    invoice = draft(line("100.00"))
    version = invoice.version
    with pytest.raises(error, match=message):
        invoice.add_discount(rule(percent, amount), STAMP)
    assert invoice.version == version and discounts(invoice) == []


def test_an_amount_larger_than_its_line_is_refused() -> None:
    small, big = line("3.00"), line("100.00")
    invoice = draft(small, big)
    with pytest.raises(InvalidInput, match=r"more than the 3\.00 GBP of line"):
        invoice.add_discount(rule(amount="3.01", on=small.line_id), STAMP)


def test_a_discount_of_an_unknown_line_is_not_found() -> None:
    invoice = draft(line("100.00"))
    with pytest.raises(NotFound):
        invoice.add_discount(rule(percent="5", on=uuid4()), STAMP)


def test_a_change_that_leaves_an_amount_discount_larger_than_the_net_is_refused() -> None:
    first, second = line("60.00"), line("60.00")
    invoice = draft(first, second)
    invoice.add_discount(rule(amount="100.00"), STAMP)
    with pytest.raises(InvalidInput, match=r"more than the 60\.00 GBP"):
        invoice.remove_line(first.line_id, STAMP)
    assert len(invoice.charges) == 2


def test_the_total_never_goes_below_zero() -> None:
    # three lines of 0.01 at 20% pay no tax each; 100% off them would take 0.01 of tax back
    invoice = draft(line("0.01"), line("0.01"), line("0.01"))
    with pytest.raises(InvalidInput, match="never below zero"):
        invoice.add_discount(rule(percent="100"), STAMP)


def test_a_full_discount_makes_a_zero_invoice_in_yen() -> None:
    invoice = draft(line("1001", "10"), currency="JPY")
    invoice.add_discount(rule(percent="100"), STAMP)
    assert invoice.totals.total == 0
