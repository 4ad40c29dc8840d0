"""The ledger's limits (domain/limits.py): the checks themselves, and the domain's commands
refusing what they refuse without writing an event."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest

from adapters.ledger.application import Ledger
from domain import limits
from domain.changes import CustomerChanges, LineChanges, SettingsChanges
from domain.errors import (
    InvalidAmount,
    InvalidCharacters,
    InvalidInput,
    InvalidNumberFormat,
    OutOfRange,
    TextTooLong,
)
from domain.money import line_net, line_tax, parse_decimal
from domain.numbering import number_format, render_number
from tests.helpers import customer, event_count

# ------------------------------------------------------------------------ text


@pytest.mark.parametrize(
    "text",
    [
        "Acme Calls Ltd",
        "Zürich Telekom AG",
        "東京テレコム株式会社",
        "שלום\u200fבע״מ",
        "👩‍💻 Ltd",
        "",
    ],
)
def test_ordinary_text_of_any_script_is_accepted(text: str) -> None:
    assert limits.check_text(text, limits.CUSTOMER_NAME) == text


@pytest.mark.parametrize(
    ("text", "code_point", "position"),
    [
        ("a\x00", 0x0, 2),
        ("\x1b[31m", 0x1B, 1),
        ("a\x9b31m", 0x9B, 2),
        ("a\x7f", 0x7F, 2),
        ("a\u202eb", 0x202E, 2),
        ("\u202a", 0x202A, 1),
        ("ab\u2066", 0x2066, 3),
        ("\u2069", 0x2069, 1),
        ("a\u2028", 0x2028, 2),
        ("a\ud800", 0xD800, 2),
        ("a\uffff", 0xFFFF, 2),
        ("a\nb", 0x0A, 2),
        ("a\tb", 0x09, 2),
        ("a\rb", 0x0D, 2),
    ],
)
def test_one_line_text_refuses_controls_breaks_and_bidi_overrides(
    text: str, code_point: int, position: int
) -> None:
    with pytest.raises(InvalidCharacters) as refused:
        limits.check_text(text, limits.CUSTOMER_NAME)
    assert f"(found U+{code_point:04X} at character {position})" in str(refused.value)
    assert refused.value.code == "invalid_characters"


def test_several_lines_take_lf_and_crlf_but_not_a_lone_cr_or_controls() -> None:
    assert limits.check_text("1 Road\nTown\r\nUK", limits.BILLING_ADDRESS)
    for text in ("1 Road\rTown", "1 Road\x1b[2J", "a\u202e", "a\tb", "a\r"):
        with pytest.raises(InvalidCharacters):
            limits.check_text(text, limits.BILLING_ADDRESS)


def test_length_is_counted_in_characters_and_the_text_is_never_echoed() -> None:
    assert limits.check_text("é" * 200, limits.CUSTOMER_NAME)
    with pytest.raises(
        TextTooLong, match=r"^customer name must be at most 200 characters, got 201$"
    ):
        limits.check_text("é" * 201, limits.CUSTOMER_NAME)
    with pytest.raises(TextTooLong) as refused:
        limits.check_text("\x1b" * 20_000_000, limits.CUSTOMER_NAME)
    assert "\x1b" not in str(refused.value) and len(str(refused.value)) < 100


# --------------------------------------------------------------------- numbers


@pytest.mark.parametrize(
    ("currency", "largest"),
    [
        ("GBP", "9999999999999.99"),
        ("JPY", "999999999999999"),
        ("KWD", "999999999999.999"),
        ("CLF", "99999999999.9999"),
    ],
)
def test_money_has_at_most_15_significant_digits_in_every_currency(
    currency: str, largest: str
) -> None:
    assert limits.check_money(D(largest), currency) == D(largest)
    assert len(D(largest).as_tuple().digits) == 15
    assert float(largest) == float(D(largest)) and D(repr(float(largest))) == D(largest)
    bigger = D(largest) + D(1).scaleb(D(largest).as_tuple().exponent)
    with pytest.raises(OutOfRange, match="less than"):
        limits.check_money(bigger, currency)
    with pytest.raises(OutOfRange):
        limits.check_money(-bigger, currency)


def test_unit_prices_quantities_rates_and_terms() -> None:
    assert limits.check_unit_price(D("9999999999999.99999999"), "GBP")
    for bad_price, error in ((D("1E+13"), OutOfRange), (D("0.000000001"), InvalidAmount)):
        with pytest.raises(error):
            limits.check_unit_price(bad_price, "GBP")
    with pytest.raises(InvalidInput, match="must not be negative"):
        limits.check_unit_price(D(-1), "GBP")
    assert limits.check_quantity(D("1000000000")) and limits.check_quantity(D("0.00000001"))
    for bad_quantity in (D("1000000000.00000001"), D("1E+400")):
        with pytest.raises(OutOfRange, match="at most 1,000,000,000"):
            limits.check_quantity(bad_quantity)
    with pytest.raises(InvalidAmount):
        limits.check_quantity(D("1E-9"))
    with pytest.raises(OutOfRange, match="between 0 and 100 percent, got 1E\\+400"):
        limits.check_tax_rate(D("1E+400"))
    assert limits.check_days(0) == 0 and limits.check_days(365) == 365
    for bad_days in (-1, 366, 10**9, 2**80):
        with pytest.raises(OutOfRange, match="between 0 and 365 days"):
            limits.check_days(bad_days)
    with pytest.raises(InvalidInput):
        limits.check_days(True)


def test_numbers_are_parsed_from_ascii_digits_and_long_ones_unread() -> None:
    assert parse_decimal("12.50") == D("12.50")
    for text in ("\u0661\u0662", "\uff11", "1e3", "1_000"):
        with pytest.raises(InvalidAmount):
            parse_decimal(text)
    with pytest.raises(
        OutOfRange, match=r"^amount has 100,001 characters: a number has at most 40$"
    ):
        parse_decimal("9" * 100_001)


def test_the_line_net_is_exact_where_the_default_context_would_round_twice() -> None:
    # quantity x price = 3000001510027.0049999999999997 (29 digits): the default 28-digit
    # context makes it ...005000 and half-up then gives .01 too much
    quantity, price = D("3.00000001"), D("1000000500008.99999997")
    assert (quantity * price).quantize(D("0.01"), rounding="ROUND_HALF_UP") == D("3000001510027.01")
    assert line_net(quantity, price, "GBP") == D("3000001510027.00")
    assert line_tax(D("9999999999999.99"), D("99.9999"), "GBP") == D("9999989999999.99")


# ------------------------------------------------------------------------ dates


def test_dates_and_date_arithmetic_stay_inside_2000_to_2099() -> None:
    assert limits.check_date(date(2000, 1, 1)) and limits.check_date(date(2099, 12, 31))
    for day in (date(1999, 12, 31), date(2100, 1, 1), date.max, date.min):
        with pytest.raises(OutOfRange, match="between 2000-01-01 and 2099-12-31"):
            limits.check_date(day)
    assert limits.days_after(date(2099, 12, 1), 30) == date(2099, 12, 31)
    with pytest.raises(OutOfRange, match=r"due date .* got 2100-01-14"):
        limits.days_after(date(2099, 12, 31), 14)
    with pytest.raises(OutOfRange, match="payment terms"):  # never an OverflowError
        limits.days_after(date(2099, 12, 31), 10**9)


# ------------------------------------------------------------- number formats


@pytest.mark.parametrize(
    ("pattern", "number"),
    [
        ("INV-{year}-{seq:06d}", "INV-2026-000042"),
        ("T{seq:04d}", "T0042"),
        ("{seq}", "42"),
        ("FV/{year}/{seq:03d}", "FV/2026/042"),
        ("CN#{seq:012d}", "CN#000000000042"),
        ("a.b_c-{seq:01d}", "a.b_c-42"),
    ],
)
def test_number_formats_render_like_str_format_did(pattern: str, number: str) -> None:
    assert render_number(pattern, 2026, 42) == number == pattern.format(year=2026, seq=42)


@pytest.mark.parametrize(
    "pattern",
    [
        "INV-{seq.__class__.__name__}",
        "{seq!s:.0}",
        "{seq!r}",
        "{seq:>6}",
        "{seq:6d}",
        "{seq:013d}",
        "{seq:00d}",
        "{year:04d}-{seq}",
        "{0}{seq}",
        "{}{seq}",
        "{seq}{seq}",
        "INV-{year}",
        "INV {seq}",
        "INV-{seq}}",
        "{{seq}}",
        "Fät-{seq}",
        "{seq}\x1b[2J",
        "A" * 36 + "{seq}",
    ],
)
def test_number_formats_refuse_everything_but_year_seq_and_plain_text(pattern: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        number_format(pattern)
    assert isinstance(refused.value, (InvalidNumberFormat, TextTooLong, InvalidCharacters))


# -------------------------------------------------- the domain's commands refuse


def test_refused_values_write_no_event(memory_ledger: Ledger) -> None:
    customer(memory_ledger)
    draft = memory_ledger.create_invoice("ACME", "test")
    payment = memory_ledger.record_payment("ACME", "test", amount=D(10), status="completed")
    before = event_count(memory_ledger)
    attempts = [
        lambda: memory_ledger.add_line(
            draft, "test", description="x", quantity=D(1), unit_price=D("1E+30")
        ),
        lambda: memory_ledger.add_line(
            draft, "test", description="x", quantity=D("1E+9"), unit_price=D("1E+5")
        ),
        lambda: memory_ledger.change_customer(
            "ACME", CustomerChanges.model_validate({"payment_terms_days": 10**9}), "test"
        ),
        lambda: memory_ledger.change_customer(
            "ACME", CustomerChanges.model_validate({"name": "a\u202eb"}), "test"
        ),
        lambda: memory_ledger.change_settings(
            SettingsChanges.model_validate({"default_tax_rate": "1e400"}), "test"
        ),
        lambda: memory_ledger.change_settings(
            SettingsChanges.model_validate({"default_tax_rate": D("1E+400")}), "test"
        ),
        lambda: memory_ledger.change_settings(
            SettingsChanges.model_validate({"invoice_number_format": "{seq!s:.0}"}), "test"
        ),
        lambda: memory_ledger.register_customer("test", account_number="X", name="x" * 201),
        lambda: memory_ledger.define_package(
            "test", name="P", unit_price=D("1E+13"), currency="GBP"
        ),
        lambda: memory_ledger.allocate(payment, [(draft, D(1))] * 1001, "test"),
        lambda: memory_ledger.refund_payment(payment, D("1E+20"), "test"),
        lambda: memory_ledger.record_payment("ACME", "test", amount=D(1), reference="\x00"),
        lambda: memory_ledger.create_invoice("ACME", "test", invoice_date=date(2100, 1, 1)),
        lambda: memory_ledger.void_invoice(draft, "test", "x" * 1001),
        lambda: memory_ledger.complete_payment(payment, "\x1b[31mroot"),
    ]
    for attempt in attempts:
        with pytest.raises(InvalidInput):
            attempt()
    assert event_count(memory_ledger) == before


def test_a_document_total_stays_inside_the_money_limit(memory_ledger: Ledger) -> None:
    customer(memory_ledger, rate="20")
    draft = memory_ledger.create_invoice("ACME", "test")
    # net 8333333333333.32 + tax 1666666666666.66 = 9999999999999.98
    memory_ledger.add_line(
        draft, "test", description="x", quantity=D(1), unit_price=D("8333333333333.32")
    )
    cent = {"description": "y", "quantity": D(1), "unit_price": D("0.01")}
    memory_ledger.add_line(draft, "test", **cent)  # tax 0.002 rounds to 0
    assert memory_ledger.invoice(draft).totals.total == D("9999999999999.99")
    before = event_count(memory_ledger)
    with pytest.raises(OutOfRange, match="the invoice's total must be less than 10,000,000,000"):
        memory_ledger.add_line(draft, "test", **cent)
    first = next(iter(memory_ledger.invoice(draft).lines))
    with pytest.raises(OutOfRange):
        memory_ledger.edit_line(
            draft, first, LineChanges.model_validate({"unit_price": D("8333333333333.33")}), "test"
        )
    assert event_count(memory_ledger) == before


def test_changes_that_leave_an_out_of_range_stored_value_alone_are_not_refused(
    memory_ledger: Ledger,
) -> None:
    """Only the changed fields are checked: a value stored before the limits existed does not
    lock the customer (its terms can be fixed, its name changed)."""
    customer(memory_ledger)
    stored = memory_ledger.customer("ACME")
    stored.registered = stored.registered.model_copy(update={"payment_terms_days": 10**9})
    stored.change(
        CustomerChanges(name="Renamed Ltd"), date(2026, 10, 1), memory_ledger.stamp("test")
    )
    assert [type(e).__name__ for e in stored.collect_events()] == ["BillingDetailsChanged"]
