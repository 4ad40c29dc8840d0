"""The portal's lists read a page at a time through the query path (adapters/queries): the
same default limit (100) and opaque cursor as the HTTP API, a "Next page" link that keeps the
filters, and every row exactly once over the walk."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

from adapters.ledger.folds import LogFolds
from tests.portal.support import Browser, acme, completed_payment, issued

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


def test_a_sorted_list_pages_with_a_next_link_that_keeps_the_sort(
    finance: Browser, ledger: Any
) -> None:
    acme(ledger)
    # totals 1.20, 12.00, 120.00, 10.80, 108.00: as text "120.00" < "12.00" < "9.60"
    prices = ("1.00", "10.00", "100.00", "9.00", "90.00")
    ids = [str(issued(ledger, price)) for price in prices]
    by_total = [ids[i] for i in (2, 4, 1, 3, 0)]  # largest first

    seen: list[str] = []
    page = finance.get("/portal/invoices", sort="total", dir="desc", limit="2").text
    while True:
        assert len(links(page, "invoices")) <= 2  # the limit holds on a sorted list too
        seen += links(page, "invoices")
        following = next_link(page)
        if following is None:
            break
        assert "sort=total" in following and "dir=desc" in following and "limit=2" in following
        page = finance.client.get(following).text
    assert seen == by_total

    page = finance.get("/portal/invoices", due_min="10", due_max="110", sort="due", dir="asc")
    assert links(page.text, "invoices") == [ids[3], ids[1], ids[4]]  # 10.80, 12.00, 108.00


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


def _no_fold(monkeypatch: Any, ledger: Any) -> None:
    """Any read that folds every aggregate of a kind from the log fails the test."""

    def fold(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a page folded the log")

    monkeypatch.setattr(LogFolds, "_every", fold)
    monkeypatch.setattr(type(ledger), "all_events", fold)


def test_customer_page_shows_a_first_page_and_reads_no_fold(
    finance: Browser, ledger: Any, monkeypatch: Any
) -> None:
    acme(ledger)
    first = issued(ledger, "10.00")  # 12.00 issued today
    drafts = [str(ledger.create_invoice("ACME", "setup")) for _ in range(100)]
    payment = completed_payment(ledger, "5.00")
    _no_fold(monkeypatch, ledger)

    page = finance.get("/portal/customers/ACME")
    assert page.status_code == 200, page.text
    shown = links(page.text, "invoices")
    assert shown[0] == str(first) and shown[1:] == drafts[:99]  # 100, in the order drafted
    more = re.search(r'<a rel="next" href="([^"]+)">More invoices</a>', page.text)
    assert more is not None and "customer=ACME" in html.unescape(more.group(1))
    rest = finance.client.get(html.unescape(more.group(1))).text
    assert links(rest, "invoices") == drafts[99:]
    assert f"/portal/payments/{payment}" in page.text and "More payments" not in page.text
    # the chart's bars: invoiced and paid this month, from the register and payments rows
    month = ledger.today().strftime("%b %y")
    assert f"<title>{month}: invoiced 12.00 GBP</title>" in page.text
    assert f"<title>{month}: paid 5.00 GBP</title>" in page.text


def test_payment_page_offers_open_invoices_oldest_due_first_a_page_at_a_time(
    finance: Browser, ledger: Any, monkeypatch: Any, clock: Any
) -> None:
    acme(ledger)
    acme(ledger, "EURO", currency="EUR")
    late = issued(ledger, "30.00")  # issued first, but given longer to pay: due last
    early = issued(ledger, "20.00")
    ledger.change_due_date(
        late, ledger.invoice(late).due_date + timedelta(days=10), "setup", "agreed"
    )
    settled = issued(ledger, "1.00")
    ledger.allocate(completed_payment(ledger, "1.20"), [(settled, Decimal("1.20"))], "setup")
    issued(ledger, "5.00", account="EURO")  # another customer
    ledger.create_invoice("ACME", "setup")  # a draft owes nothing yet
    payment = completed_payment(ledger, "100.00")
    _no_fold(monkeypatch, ledger)

    page = finance.get(f"/portal/payments/{payment}", limit="1")
    assert page.status_code == 200, page.text
    assert re.findall(r'name="amount_([0-9a-f-]{36})"', page.text) == [str(early)]
    more = re.search(r'<a rel="next" href="([^"]+)">Next invoices</a>', page.text)
    assert more is not None
    page = finance.client.get(html.unescape(more.group(1)).split("#")[0])
    assert re.findall(r'name="amount_([0-9a-f-]{36})"', page.text) == [str(late)]
    assert "Next invoices" not in page.text


def test_pickers_say_when_more_customers_exist_and_search_by_account(
    finance: Browser, ledger: Any, monkeypatch: Any
) -> None:
    from adapters.portal import paging

    monkeypatch.setattr(paging, "PICKER_LIMIT", 2)
    for account in ("ACME", "ACORN", "BETA"):
        acme(ledger, account)
    options = re.compile(r'<option value="([A-Z]+)">')

    page = finance.get("/portal/invoices").text
    assert options.findall(page) == ["ACME", "ACORN"]
    assert "More than 2 customers" in page and "Type more of the account number" in page
    page = finance.get("/portal/invoices", customer="B").text  # the field's text narrows
    assert options.findall(page) == ["BETA"] and "More than 2" not in page
    page = finance.get("/portal/payments").text
    assert "More than 2 customers" in page
    form = finance.get("/portal/invoices/new").text
    # no dropdown that could not hold them all: a field that takes any account number
    assert '<select id="customer"' not in form and 'list="customer-list"' in form
    assert "More than 2 customers" in form
    monkeypatch.setattr(paging, "PICKER_LIMIT", 3)
    form = finance.get("/portal/invoices/new").text
    assert '<select id="customer"' in form and "More than" not in form
