"""Hostile posts to the portal's bulk action (docs/portal.md, "Bulk actions"): more invoices
than one action takes, no selection, an unknown action, a forged send batch, values the list
never hands out. Each is refused with its own words, or reported per invoice, and writes
nothing."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from domain.limits import MAX_BULK_INVOICES
from tests.helpers import event_count
from tests.portal.conftest import app, finance, portal, services  # noqa: F401
from tests.portal.support import Browser, acme

pytestmark = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)


def post(browser: Browser, data: dict[str, Any]) -> Any:
    body = {"csrf_token": browser.csrf, **data}
    return browser.client.post("/portal/invoices/bulk", data=body, follow_redirects=False)


@pytest.fixture
def drafts(services: Any) -> list[str]:  # noqa: F811
    ledger = services.ledger
    acme(ledger)
    made = []
    for _ in range(2):
        invoice_id = ledger.create_invoice("ACME", "setup")
        ledger.add_line(invoice_id, "setup", description="Port", quantity=Decimal(1),
                        unit_price=Decimal("1.00"))  # fmt: skip
        made.append(str(invoice_id))
    return made


def test_one_more_invoice_than_the_limit_is_refused_whole_and_issues_nothing(
    finance: Browser,  # noqa: F811
    services: Any,  # noqa: F811
    drafts: list[str],
):
    # the real drafts first: a partial run would issue them
    filler = [f"00000000-0000-4000-8000-{n:012d}" for n in range(MAX_BULK_INVOICES - 1)]
    before = event_count(services.ledger)

    refused = post(finance, {"action": "issue", "invoice": [*drafts, *filler]})
    after_refusal = event_count(services.ledger)
    at_limit = post(finance, {"action": "issue", "invoice": [*drafts[:1], *filler]})

    assert refused.status_code == 422
    assert f"most {MAX_BULK_INVOICES} invoices in one bulk action, got 101" in refused.text
    assert "select fewer and repeat" in refused.text
    assert at_limit.status_code == 200  # exactly the limit is taken
    assert at_limit.text.count('data-outcome="not found"') == MAX_BULK_INVOICES - 1
    assert after_refusal == before
    states = [services.ledger.invoice(d).state for d in drafts]
    assert states == ["issued", "draft"]


MALFORMED = {
    "nothing-selected": ({"action": "issue"}, "select at least one invoice"),
    "unknown-action": ({"action": "delete", "invoice": "x"}, "choose issue, send or download"),
    "no-action": ({"invoice": "x"}, "choose issue, send or download"),
    "path-batch": ({"action": "send", "invoice": "x", "batch": "../../etc"}, "out of date"),
    "no-batch": ({"action": "send", "invoice": "x"}, "out of date"),
    "upper-case-batch": ({"action": "send", "invoice": "x", "batch": "A" * 32}, "out of date"),
}


def test_malformed_posts_are_refused_and_write_nothing(
    finance: Browser,  # noqa: F811
    services: Any,  # noqa: F811
    drafts: list[str],
):
    before = event_count(services.ledger)
    for case, (data, words) in MALFORMED.items():
        response = post(finance, data)
        assert response.status_code == 422 and words in response.text.lower(), case
    assert event_count(services.ledger) == before


def test_values_the_list_never_hands_out_are_reported_per_invoice(
    finance: Browser,  # noqa: F811
    services: Any,  # noqa: F811
    drafts: list[str],
):
    hostile = ["<script>alert(1)</script>", "x" * 5000, "\u202egnp.exe", "1 OR 1=1", drafts[0],
               drafts[0]]  # fmt: skip
    before = event_count(services.ledger)

    page = post(finance, {"action": "issue", "invoice": hostile})

    assert page.status_code == 200
    assert "<script>" not in page.text and "&lt;script&gt;" in page.text
    assert "x" * 41 not in page.text and "\u202e" not in page.text
    # four refusals, and the duplicated draft issued once
    assert page.text.count('data-outcome="not found"') == 4
    assert page.text.count('data-outcome="issued"') == 1
    assert services.ledger.invoice(drafts[0]).state == "issued"
    assert event_count(services.ledger) > before
