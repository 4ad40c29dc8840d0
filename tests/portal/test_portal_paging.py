"""The portal's lists read a page at a time through the query path (adapters/queries): the
same default limit (100) and opaque cursor as the HTTP API, a "Next page" link that keeps the
filters, and every row exactly once over the walk."""

from __future__ import annotations

import html
import re
from typing import Any

from tests.portal.support import Browser, acme, completed_payment

NEXT = re.compile(r'<a rel="next" href="([^"]+)">Next page</a>')


def links(page: str, kind: str) -> list[str]:
    return re.findall(rf'href="/portal/{kind}/([0-9a-f-]{{36}})"', page)


def next_link(page: str) -> str | None:
    found = NEXT.search(page)
    return html.unescape(found.group(1)) if found else None


def test_invoice_list_pages_by_100_with_a_next_link(finance: Browser, ledger: Any) -> None:
    acme(ledger)
    drafted = [str(ledger.create_invoice("ACME", "setup")) for _ in range(105)]

    first = finance.get("/portal/invoices")
    assert first.status_code == 200
    assert links(first.text, "invoices") == drafted[:100]  # in the order drafted
    following = next_link(first.text)
    assert following is not None and "cursor=" in following

    second = finance.client.get(following)
    assert second.status_code == 200
    assert links(second.text, "invoices") == drafted[100:]
    assert next_link(second.text) is None


def test_next_link_keeps_the_filters_and_limit(finance: Browser, ledger: Any) -> None:
    acme(ledger)
    acme(ledger, "BETA", currency="EUR")
    ours = [str(ledger.create_invoice("ACME", "setup")) for _ in range(3)]
    ledger.create_invoice("BETA", "setup")

    page = finance.get("/portal/invoices", customer="ACME", limit="2").text
    assert links(page, "invoices") == ours[:2]
    following = next_link(page)
    assert following is not None and "customer=ACME" in following and "limit=2" in following
    page = finance.client.get(following).text
    assert links(page, "invoices") == ours[2:]
    assert next_link(page) is None


def test_sorted_list_is_one_whole_page(finance: Browser, ledger: Any) -> None:
    acme(ledger)
    drafted = [str(ledger.create_invoice("ACME", "setup")) for _ in range(3)]
    page = finance.get("/portal/invoices", sort="date", dir="asc", limit="1").text
    assert sorted(links(page, "invoices")) == sorted(drafted)
    assert next_link(page) is None


def test_customer_and_payment_lists_page(finance: Browser, ledger: Any) -> None:
    acme(ledger)
    for account in ("BETA", "GAMMA"):
        acme(ledger, account)
    page = finance.get("/portal/customers", limit="2").text
    assert "/portal/customers/ACME" in page and "/portal/customers/BETA" in page
    assert "/portal/customers/GAMMA" not in page
    page = finance.client.get(next_link(page) or "").text
    assert "/portal/customers/GAMMA" in page and "/portal/customers/ACME" not in page
    assert next_link(page) is None

    paid = [str(completed_payment(ledger, amount)) for amount in ("1.00", "2.00", "3.00")]
    page = finance.get("/portal/payments", customer="ACME", status="completed", limit="2").text
    assert links(page, "payments") == paid[:2]
    following = next_link(page)
    assert following is not None and "status=completed" in following
    assert links(finance.client.get(following).text, "payments") == paid[2:]
