"""The customer's reminder schedule (dunning) in the portal's settings form: saved ascending
and shown in the text form; a bad schedule is the field's error and writes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import event_count
from tests.portal.support import Browser, acme, error_of, value_of
from tests.portal.test_portal_prepaid import FORM

pytestmark = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)


def test_a_reminder_schedule_is_saved_shown_and_cleared(finance: Browser, ledger: Any) -> None:
    acme(ledger)
    form = {**FORM, "reminder_offsets": "14, -7, 0"}
    page = finance.follow(finance.post("/portal/customers/ACME/settings", form)).text
    assert ledger.customer("ACME").latest.reminder_offsets == (-7, 0, 14)
    assert value_of(page, "s-reminder_offsets") == "-7, 0, +14"
    finance.follow(
        finance.post("/portal/customers/ACME/settings", {**form, "reminder_offsets": "none"})
    )
    assert ledger.customer("ACME").latest.reminder_offsets == ()


def test_a_bad_reminder_schedule_is_the_fields_error(finance: Browser, ledger: Any) -> None:
    acme(ledger)
    before = event_count(ledger)
    for value, words in (("7, 7", "+7 repeated"), ("a week", "is not one"), ("400", "between")):
        response = finance.post(
            "/portal/customers/ACME/settings", {**FORM, "reminder_offsets": value}
        )
        assert response.status_code == 422
        assert words in error_of(response.text, "s-reminder_offsets"), response.text[-2000:]
    assert event_count(ledger) == before
