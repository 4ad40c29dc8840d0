"""The statement of account's PDF layout: sound on one page and on many (inside the margins,
nothing overlapping), every line once and in order, the same bytes each time."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal as D

from adapters.pdf.render import render
from adapters.pdf.statement import statement_document
from adapters.queries.statements import Section, Statement, StatementLine
from domain.customer import CustomerProfile
from domain.settings import SellerSettings
from tests.pdf_support import page_texts
from tests.unit.test_pdf_layout import assert_sound

PROFILE = CustomerProfile(
    account_number="ACME", name="Acme Calls Ltd", currency="GBP", tax_rate=D(0),
    tax_description="", payment_terms_days=14,
)  # fmt: skip


def statement_of(count: int) -> tuple[Statement, Section]:
    section = Section("GBP", D("40.00"), D(0))
    balance = section.opening
    for n in range(count):
        balance += D("10.00")
        section.lines.append(
            StatementLine(date(2026, 1, 1) + timedelta(days=n % 300), "invoice",
                          f"INV-2026-{n:06d}", f"INV-2026-{n:06d}", f"id-{n}",
                          date(2026, 12, 31), None, None, D("10.00"), D(0), balance, D(0))
        )  # fmt: skip
    return Statement("id", "ACME", date(2026, 1, 1), date(2026, 12, 31), [section]), section


def test_a_one_page_statement_is_sound():
    found, section = statement_of(5)
    rendered = render(statement_document(found, section, SellerSettings(), PROFILE))
    assert rendered.page_count == 1
    assert_sound(rendered.layout)


def test_a_long_statement_opens_with_its_summary_and_prints_every_line_once():
    found, section = statement_of(300)
    document = statement_document(found, section, SellerSettings(), PROFILE)
    rendered = render(document)
    assert rendered.page_count > 3
    assert_sound(rendered.layout)
    pages = page_texts(rendered.pdf)
    assert "Balance due: 3,040.00 GBP on 31 Dec 2026." in pages[0]
    numbers = [n for page in pages[1:] for n in _numbers(page)]
    assert numbers == [f"INV-2026-{n:06d}" for n in range(300)]
    assert render(document).pdf == rendered.pdf


def _numbers(text: str) -> list[str]:
    import re

    return re.findall(r"INV-2026-\d{6}", text)
