"""Hostile paging of the portal's lists: a forged, foreign or oversized cursor and a limit out
of 1..1000 get a 422 page that says what is wrong, and write nothing."""

from __future__ import annotations

import base64
import html
import json
import re
from typing import Any

import pytest

from tests.helpers import event_count

# the portal's fixtures (both stores, a signed-in finance user); the names are pytest's to use
from tests.portal.conftest import (  # noqa: F401
    _quiet,
    app,
    finance,
    ledger,
    portal,
    services,
)
from tests.portal.support import Browser, acme


def _said(response: Any) -> str:
    return re.sub(r"\s+", " ", html.unescape(response.text)).lower()


def _forged(listing: str, key: list[Any], filters: str = "0" * 16) -> str:
    text = json.dumps({"l": listing, "f": filters, "k": key}, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


LISTS = ("/portal/invoices", "/portal/customers", "/portal/payments")
LIMITS = ("0", "-1", "1001", "99999999", "1e3", "ten", "1.5", " ", "１０", "0x10", "")
CURSORS = (
    "garbage",
    "!!!!",
    "x" * 2000,
    _forged("invoices", [1]),
    _forged("customers", [1]),
    _forged("payments", ["not a number"]),
    _forged("invoices", [-1]),
    _forged("invoices", [2**70]),
    _forged("invoices", [1, 2]),
    base64.urlsafe_b64encode(b"[1,2,3]").decode(),
    base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    "é",
)


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize("limit", LIMITS)
def test_limit_out_of_range_is_a_422_page(
    finance: Browser,  # noqa: F811
    ledger: Any,  # noqa: F811
    path: str,
    limit: str,
) -> None:
    acme(ledger)
    before = event_count(ledger)
    response = finance.get(path, limit=limit)
    if limit == "":
        assert response.status_code == 200  # an empty field is no limit: the default
    else:
        assert response.status_code == 422, response.text
        assert "limit must be a whole number from 1 to 1000" in _said(response)
    assert event_count(ledger) == before


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize("cursor", CURSORS)
def test_forged_cursor_is_a_422_page(
    finance: Browser,  # noqa: F811
    ledger: Any,  # noqa: F811
    path: str,
    cursor: str,
) -> None:
    acme(ledger)
    before = event_count(ledger)
    response = finance.get(path, cursor=cursor)
    assert response.status_code == 422, response.text
    assert "cursor is not one this list handed out" in _said(response)
    assert event_count(ledger) == before


def test_cursor_of_other_filters_or_a_sorted_list_is_refused(
    finance: Browser,  # noqa: F811
    ledger: Any,  # noqa: F811
) -> None:
    acme(ledger)
    acme(ledger, "BETA")
    for _ in range(3):
        ledger.create_invoice("ACME", "setup")
    page = finance.get("/portal/invoices", customer="ACME", limit="1").text
    cursor = page.split("cursor=", 1)[1].split('"', 1)[0].split("&", 1)[0]
    before = event_count(ledger)
    other = finance.get("/portal/invoices", customer="BETA", limit="1", cursor=cursor)
    assert other.status_code == 422 and "cursor is not one this list handed out" in _said(other)
    # a sorted list pages too, but by its own keys: the drafted order's cursor is not its own
    sorted_ = finance.get("/portal/invoices", sort="date", cursor=cursor)
    assert sorted_.status_code == 422 and "cursor is not one this list handed out" in _said(sorted_)
    first = finance.get("/portal/invoices", sort="total", limit="1").text
    by_total = html.unescape(first.split("cursor=", 1)[1].split('"', 1)[0].split("&", 1)[0])
    for other in ({"sort": "due"}, {"sort": "total", "dir": "asc"}, {"due_min": "1"}):
        refused = finance.get("/portal/invoices", **{"sort": "total", **other}, cursor=by_total)
        assert refused.status_code == 422, other
    assert event_count(ledger) == before
