"""If-Match at the ledger: a command given an expected version refuses a newer aggregate."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from domain.changes import CustomerChanges
from domain.errors import VersionMismatch
from tests.helpers import customer, event_count


def test_an_edit_against_a_stale_version_is_refused_and_writes_nothing(make_ledger):
    browser, colleague = make_ledger(), make_ledger()
    customer(browser)
    invoice_id = browser.create_invoice("ACME", "t")
    seen = browser.invoice(invoice_id).version  # what the caller's ETag said

    colleague.add_line(invoice_id, "colleague", description="x", quantity=D("1"), unit_price=D("1"))
    before = event_count(browser)
    line = {"description": "y", "quantity": D("1"), "unit_price": D("2")}
    with pytest.raises(VersionMismatch) as refused:
        browser.add_line(invoice_id, "t", expected_version=seen, **line)
    assert refused.value.current_version == seen + 1
    assert event_count(browser) == before

    browser.add_line(invoice_id, "t", expected_version=seen + 1, **line)
    assert len(browser.invoice(invoice_id).lines) == 2
    # Without an expected version the edit applies to whatever is current.
    browser.add_line(invoice_id, "t", description="z", quantity=D("1"), unit_price=D("3"))
    assert len(browser.invoice(invoice_id).lines) == 3


def test_the_expected_version_is_the_one_command_s_own(make_ledger):
    ledger = make_ledger()
    customer(ledger)
    before = ledger.customer("ACME").version
    ledger.change_customer(
        "ACME", CustomerChanges(email="a@acme.example"), "t", expected_version=before
    )
    # the caller's own edit moved the version on: the old one is stale now
    with pytest.raises(VersionMismatch, match=f"at version {before + 1}, not the expected"):
        ledger.change_customer(
            "ACME", CustomerChanges(email="b@acme.example"), "t", expected_version=before
        )
    assert ledger.customer("ACME").latest.email == "a@acme.example"
