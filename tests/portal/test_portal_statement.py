"""The statement of account in the portal: the link on the customer's page, the statement of
the worked case (docs/statements.md), its PDF, and a bad period as the fields' errors."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.cli.main import main
from tests.portal.support import Browser, error_of, value_of
from tests.statement_support import worked_case

pytestmark = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)


def test_the_statement_page_and_its_pdf(
    finance: Browser, auditor: Browser, ledger: Any, clock: Any, store_url: str, tmp_path: Any
) -> None:
    worked_case(ledger, clock)
    written = tmp_path / "statement.pdf"
    main(["--db", store_url, "customer", "statement", "ACME", "--from", "2026-11-01", "--to",
          "2026-11-30", "--pdf", str(written)], clock=clock)  # fmt: skip
    customer_page = finance.get("/portal/customers/ACME").text
    assert 'action="/portal/customers/ACME/statement"' in customer_page
    assert value_of(customer_page, "statement-from") == "2026-12-01"  # this month so far

    page = auditor.get("/portal/customers/ACME/statement", **{"from": "2026-11-01",
                                                                "to": "2026-11-30"})  # fmt: skip
    assert page.status_code == 200, page.text
    assert 'class="num opening">40.00<' in page.text
    assert 'class="num closing">-5.00<' in page.text
    assert 'class="owed">70.00<' in page.text and 'class="credit">75.00<' in page.text
    link = "/portal/customers/ACME/statement.pdf?from=2026-11-01&amp;to=2026-11-30&amp;currency=GBP"
    assert link in page.text
    pdf = auditor.get("/portal/customers/ACME/statement.pdf",
                      **{"from": "2026-11-01", "to": "2026-11-30", "currency": "GBP"})  # fmt: skip
    assert pdf.status_code == 200, pdf.text
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content == written.read_bytes()  # the CLI's bytes


def test_a_bad_period_is_the_fields_error(finance: Browser, ledger: Any, clock: Any) -> None:
    worked_case(ledger, clock)
    backwards = finance.get(
        "/portal/customers/ACME/statement", **{"from": "2026-11-30", "to": "2026-11-01"}
    )
    assert backwards.status_code == 422
    assert "before its start" in error_of(backwards.text, "to")
    too_long = finance.get("/portal/customers/ACME/statement", **{"from": "2024-01-01",
                                                                   "to": "2026-11-01"})  # fmt: skip
    assert "at most 366 days" in error_of(too_long.text, "to")
    garbled = finance.get("/portal/customers/ACME/statement", **{"from": "soon",
                                                                  "to": "2026-11-01"})  # fmt: skip
    assert garbled.status_code == 422 and error_of(garbled.text, "from")


def test_finance_sends_the_statement_shown_and_auditors_cannot(
    finance: Browser, auditor: Browser, ledger: Any, clock: Any, monkeypatch: Any
) -> None:
    from domain.customer import Customer
    from tests.mail_support import attachment, smtp_env, smtp_server

    worked_case(ledger, clock)
    period = {"from": "2026-11-01", "to": "2026-11-30"}
    page = finance.get("/portal/customers/ACME/statement", **period).text
    assert 'action="/portal/customers/ACME/statement/send"' in page
    assert "statement/send" not in auditor.get("/portal/customers/ACME/statement", **period).text
    form = {**period, "currency": "GBP", "recipients": "ap@acme.example"}
    assert auditor.post("/portal/customers/ACME/statement/send", form).status_code == 403
    # no billing address on record and none typed: refused on a page, nothing written
    before = len(ledger.events_of(ledger.customer("ACME").id))
    port = smtp_env(monkeypatch)
    nobody = finance.post("/portal/customers/ACME/statement/send", {**form, "recipients": ""})
    assert nobody.status_code == 409 and "no billing e-mail address" in nobody.text
    assert len(ledger.events_of(ledger.customer("ACME").id)) == before

    with smtp_server(port) as inbox:
        sent = finance.follow(finance.post("/portal/customers/ACME/statement/send", form))
        again = finance.follow(finance.post("/portal/customers/ACME/statement/send", form))
    assert "Statement sent to ap@acme.example" in sent.text
    assert "sent already: nothing sent again" in again.text
    [(_, rcpt, message)] = inbox.received
    assert rcpt == ["ap@acme.example"]
    assert attachment(message)[0] == "statement-ACME-2026-11-01-2026-11-30-GBP.pdf"
    sends = [e for e in ledger.events_of(ledger.customer("ACME").id)
             if isinstance(e, Customer.StatementSent)]  # fmt: skip
    assert len(sends) == 1 and sends[0].actor == "fiona"  # who pressed the button
