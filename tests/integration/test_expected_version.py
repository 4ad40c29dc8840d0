"""If-Match at the ledger: a command under an expected version refuses a newer aggregate."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from domain.errors import VersionMismatch
from tests.helpers import customer, event_count


def test_an_edit_against_a_stale_version_is_refused_and_writes_nothing(make_ledger):
    browser, colleague = make_ledger(), make_ledger()
    customer(browser)
    invoice_id = browser.create_invoice("ACME", "t")
    seen = browser.invoice(invoice_id).version  # what the caller's ETag said

    colleague.add_line(invoice_id, "colleague", description="x", quantity=D("1"), unit_price=D("1"))
    before = event_count(browser)
    with browser.expecting(invoice_id, {seen}), pytest.raises(VersionMismatch) as refused:
        browser.add_line(invoice_id, "t", description="y", quantity=D("1"), unit_price=D("2"))
    assert refused.value.current_version == seen + 1
    assert event_count(browser) == before

    with browser.expecting(invoice_id, {seen + 1}):
        browser.add_line(invoice_id, "t", description="y", quantity=D("1"), unit_price=D("2"))
    assert len(browser.invoice(invoice_id).lines) == 2
    # Outside the block nothing is expected any more.
    browser.add_line(invoice_id, "t", description="z", quantity=D("1"), unit_price=D("3"))


def test_the_callers_own_edit_moves_the_expected_version_on(make_ledger):
    ledger = make_ledger()
    customer(ledger)
    invoice_id = ledger.create_invoice("ACME", "t")
    with ledger.expecting(invoice_id, {1}):
        ledger.add_line(invoice_id, "t", description="y", quantity=D("1"), unit_price=D("2"))
        assert ledger.invoice(invoice_id).version == 2  # reading back its own write is fine
        ledger.add_line(invoice_id, "t", description="z", quantity=D("1"), unit_price=D("2"))
