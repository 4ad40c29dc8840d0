"""Bulk actions on the portal's invoice list (docs/portal.md, "Bulk actions"): issue the
selected drafts, e-mail the selected invoices (a real SMTP server on 127.0.0.1), download a
deterministic zip of their PDFs; each invoice reported on its own, a re-post doubling nothing."""

from __future__ import annotations

import html
import io
import re
import zipfile
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from adapters.cli.main import main
from domain.changes import CustomerChanges
from domain.invoice import Invoice
from tests.mail_support import attachment, free_port, smtp_server
from tests.portal.support import Browser, acme, issued

SQLITE = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
BATCH = re.compile(r'name="batch" value="([0-9a-f]{32})"')


def bulk(browser: Browser, action: str, ids: list[Any], batch: str | None = None) -> Any:
    data: dict[str, Any] = {"csrf_token": browser.csrf, "action": action}
    data["invoice"] = [str(i) for i in ids]
    if batch is not None:
        data["batch"] = batch
    return browser.client.post("/portal/invoices/bulk", data=data, follow_redirects=False)


def outcomes(page: str) -> list[tuple[str, str, str]]:
    """(invoice, outcome, details) of each row of a results page."""
    rows = re.findall(
        r'<tr data-outcome="[^"]*">\s*<td>(?:<a [^>]*>)?([^<]*)(?:</a>)?</td>\s*'
        r'<td><span class="badge">([^<]*)</span></td>\s*<td>([^<]*)</td>',
        page,
    )
    return [tuple(html.unescape(cell) for cell in row) for row in rows]  # type: ignore[misc]


def draft(ledger: Any, price: str | None = "10.00") -> UUID:
    invoice_id: UUID = ledger.create_invoice("ACME", "setup")
    if price is not None:
        ledger.add_line(invoice_id, "setup", description="Port", quantity=Decimal(1),
                        unit_price=Decimal(price))  # fmt: skip
    return invoice_id


def issued_count(ledger: Any, invoice_id: UUID) -> int:
    return sum(isinstance(e, Invoice.Issued) for e in ledger.events_of(invoice_id))


def test_bulk_issue_reports_each_invoice_and_a_repost_doubles_nothing(
    finance: Browser, ledger: Any
):
    acme(ledger)
    first, second, empty = draft(ledger), draft(ledger, "20.00"), draft(ledger, None)
    done = issued(ledger, "5.00")
    listed = finance.get("/portal/invoices").text
    for invoice_id in (first, second, empty, done):
        assert f'name="invoice" value="{invoice_id}" form="bulk"' in listed
    assert 'data-select-all form="bulk"' in listed and 'value="issue"' in listed

    page = bulk(finance, "issue", [first, empty, done, second])
    again = bulk(finance, "issue", [first, empty, done, second])

    assert page.status_code == 200
    rows = outcomes(page.text)
    assert [(label, outcome) for label, outcome, _ in rows] == [
        ("INV-2026-000002", "issued"),
        (f"Draft {str(empty)[:8]}", "refused"),
        ("INV-2026-000001", "skipped"),
        ("INV-2026-000003", "issued"),
    ]
    assert "no lines" in rows[1][2] and rows[2][2] == "not a draft: issued"
    assert [outcome for _, outcome, _ in outcomes(again.text)] == [
        "skipped", "refused", "skipped", "skipped"
    ]  # fmt: skip
    assert [issued_count(ledger, i) for i in (first, second, empty, done)] == [1, 1, 0, 1]
    assert [e.actor for e in ledger.events_of(first) if isinstance(e, Invoice.Issued)] == ["fiona"]


@SQLITE
def test_the_zip_holds_the_cli_pdfs_in_sorted_fixed_entries_and_names_what_is_missing(
    finance: Browser, ledger: Any, store_url: str, tmp_path: Path, capsys: Any
):
    acme(ledger)
    late, early = issued(ledger, "5.00"), issued(ledger, "7.00")
    opened = draft(ledger)
    missing = "00000000-0000-4000-8000-000000000000"

    response = bulk(finance, "zip", [early, missing, opened, late, "not-an-id\x00"])

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    names = archive.namelist()
    drafted = f"draft-{str(opened)[:8]}.pdf"
    assert (
        names
        == sorted(names)
        == sorted(["INV-2026-000001.pdf", "INV-2026-000002.pdf", drafted, "NOT-INCLUDED.txt"])
    )
    assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    left_out = archive.read("NOT-INCLUDED.txt").decode()
    assert f"{missing}\tnot found: no such invoice" in left_out
    assert "not-an-id?\tnot found: not an invoice id" in left_out
    target = tmp_path / "cli.pdf"
    main(["--db", store_url, "invoice", "pdf", "INV-2026-000002", "-o", str(target)])
    capsys.readouterr()
    assert archive.read("INV-2026-000002.pdf") == target.read_bytes()
    assert archive.read(drafted) == finance.get(f"/portal/invoices/{opened}.pdf").content


@SQLITE
def test_bulk_send_goes_once_per_list_page_and_reports_refusals(
    finance: Browser, ledger: Any, monkeypatch: pytest.MonkeyPatch
):
    port = free_port()
    for name, value in (("HOST", "127.0.0.1"), ("PORT", str(port)), ("TLS", "none"),
                        ("FROM", "billing@carrier.example")):  # fmt: skip
        monkeypatch.setenv(f"TOLLBOOK_SMTP_{name}", value)
    acme(ledger)
    ledger.register_customer("setup", account_number="NOMAIL", name="No Mail Ltd",
                             currency="GBP", tax_rate=Decimal(20))  # fmt: skip
    ledger.change_customer(
        "ACME", CustomerChanges.model_validate({"email": "ap@acme.example"}), "setup"
    )
    invoice = issued(ledger, "5.00")
    unaddressed = issued(ledger, "6.00", account="NOMAIL")
    opened = draft(ledger)
    batch = BATCH.search(finance.get("/portal/invoices").text).group(1)  # type: ignore[union-attr]
    down = bulk(finance, "send", [invoice], batch)  # the server is not up yet

    with smtp_server(port) as inbox:
        page = bulk(finance, "send", [invoice, opened, unaddressed], batch)
        again = bulk(finance, "send", [invoice], batch)
        other = BATCH.search(finance.get("/portal/invoices").text).group(1)  # type: ignore[union-attr]
        anew = bulk(finance, "send", [invoice], other)

    ((label, outcome, detail),) = outcomes(down.text)
    assert (label, outcome) == ("INV-2026-000001", "failed") and "tried again from" in detail
    rows = outcomes(page.text)
    # the failed request of this page is the one retried: the same send id, now sent
    assert rows[0] == ("INV-2026-000001", "sent", "to ap@acme.example")
    assert rows[1][1] == "refused" and "draft" in rows[1][2]
    assert rows[2][1] == "refused" and "no billing e-mail address" in rows[2][2]
    assert outcomes(again.text)[0][1] == "already-sent"
    assert outcomes(anew.text)[0][1] == "sent"  # another page's form is another request
    assert len(inbox.received) == 2
    first, second = (message for _, _, message in inbox.received)
    assert first["Message-ID"] != second["Message-ID"]
    pdf = finance.get(f"/portal/invoices/{invoice}.pdf").content
    assert attachment(first) == ("INV-2026-000001.pdf", pdf)
    sent = [e for e in ledger.events_of(invoice) if isinstance(e, Invoice.Sent)]
    assert [e.actor for e in sent] == ["fiona", "fiona"]


@SQLITE
def test_auditors_download_but_never_issue_and_a_post_without_csrf_does_nothing(
    finance: Browser, auditor: Browser, ledger: Any, monkeypatch: pytest.MonkeyPatch
):
    acme(ledger)
    opened = draft(ledger)
    listed = auditor.get("/portal/invoices").text
    assert 'value="zip"' in listed
    assert 'value="issue"' not in listed and 'value="send"' not in listed

    refused = bulk(auditor, "issue", [opened])
    mailed = bulk(auditor, "send", [opened], "0" * 32)
    downloaded = bulk(auditor, "zip", [opened])
    finance.csrf = "forged"
    forged = bulk(finance, "issue", [opened])
    monkeypatch.delenv("TOLLBOOK_SMTP_HOST", raising=False)
    finance.csrf = re.search(r'name="csrf_token" value="([^"]+)"',  # type: ignore[union-attr]
                             finance.get("/portal/invoices").text).group(1)  # fmt: skip
    unconfigured = bulk(finance, "send", [opened], "0" * 32)

    assert refused.status_code == mailed.status_code == forged.status_code == 403
    assert downloaded.status_code == 200
    assert unconfigured.status_code == 503 and "TOLLBOOK_SMTP_HOST" in unconfigured.text
    assert ledger.invoice(opened).state == "draft"
