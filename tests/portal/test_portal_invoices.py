"""Invoice pages through the portal: the global list, drafts, lines from packages, issue,
credit notes, void, PDF, allocation from the invoice, and the history with the as-of view.
Every refusal shows next to its field or button, keeps the input, and saves nothing."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal
from typing import Any
from uuid import uuid4

from adapters.ledger.folds import LogFolds
from domain.invoice import Invoice
from domain.invoice_line import InvoiceLine
from tests.portal.support import (
    Browser,
    acme,
    action_error,
    completed_payment,
    error_of,
    issued,
    sip_trunk,
    value_of,
)


def draft_url(finance: Browser, account: str = "ACME") -> str:
    response = finance.post("/portal/invoices", {"customer": account})
    assert response.status_code == 303, response.text
    return str(response.headers["location"])


def invoice_id(url: str) -> str:
    return url.rsplit("/", 1)[1]


# ------------------------------------------------------------------ the list


def test_invoice_list_filters_sorts_totals_and_downloads(finance: Browser, ledger: Any) -> None:
    acme(ledger)
    acme(ledger, "BETA", currency="EUR")
    small = issued(ledger, "10.00")  # 12.00 due
    big = issued(ledger, "100.00")  # 120.00 due
    euro = issued(ledger, "50.00", account="BETA")  # 60.00 EUR
    ledger.allocate(completed_payment(ledger, "120.00"), [(big, Decimal("120.00"))], "setup")
    draft = ledger.create_invoice("ACME", "setup")

    page = finance.get("/portal/invoices").text
    for found in (small, big, euro, draft):
        assert f"/portal/invoices/{found}" in page
    # totals per currency, never mixed
    assert re.search(r"Total GBP \(3 invoices.*?132\.00 GBP.*?120\.00.*?12\.00", page, re.S)
    assert re.search(r"Total EUR \(1 invoice;.*?60\.00 EUR.*?0\.00.*?60\.00", page, re.S)

    page = finance.get("/portal/invoices", customer="ACME", status="paid").text
    assert str(big) in page and str(small) not in page and str(euro) not in page
    page = finance.get("/portal/invoices", due_min="11", due_max="59").text
    assert str(small) in page and str(euro) not in page and str(big) not in page
    page = finance.get("/portal/invoices", **{"from": "2026-10-02"}).text
    assert "No invoices match." in page
    page = finance.get("/portal/invoices", sort="due", dir="asc").text
    positions = [page.index(f'/portal/invoices/{i}"') for i in (big, small, euro)]
    assert positions == sorted(positions)  # 0.00, 12.00, 60.00 due

    rows = list(
        csv.DictReader(io.StringIO(finance.get("/portal/invoices.csv", customer="BETA").text))
    )
    assert [(r["number"], r["currency"], r["total"], r["amount_due"]) for r in rows] == [
        ("INV-2026-000003", "EUR", "60.00", "60.00")
    ]


def test_bad_filters_show_next_to_their_field(finance: Browser, ledger: Any) -> None:
    acme(ledger)
    response = finance.get("/portal/invoices", customer="NOPE", to="2026-13-01", due_min="1,000")
    assert response.status_code == 422
    page = response.text
    assert "unknown customer 'nope'" in error_of(page, "customer")
    assert "must be an iso date" in error_of(page, "to")
    assert "plain decimal number" in error_of(page, "due_min")
    assert 'value="1,000"' in page  # what was typed stays
    assert finance.get("/portal/invoices.csv", customer="NOPE").status_code == 409


# ------------------------------------------------------------------ drafts and lines


def test_new_draft_and_its_errors(finance: Browser, ledger: Any) -> None:
    acme(ledger)
    response = finance.post(
        "/portal/invoices",
        {"customer": "ACME", "invoice_date": "2026-10-10", "due_date": "2026-10-01"},
    )
    assert response.status_code == 422
    assert "due date 2026-10-01 is before invoice date" in error_of(response.text, "due_date")
    assert LogFolds(ledger).invoices("ACME") == []
    response = finance.post("/portal/invoices", {"customer": "NOPE"})
    assert "unknown customer" in error_of(response.text, "customer")
    url = draft_url(finance)
    invoice = ledger.invoice(invoice_id(url))
    assert invoice.state == "draft" and invoice.due_date.isoformat() == "2026-10-31"
    assert ledger.events_of(invoice.id)[0].actor == "fiona"


def test_package_line_fills_from_the_package_and_can_be_overridden(
    finance: Browser, ledger: Any
) -> None:
    acme(ledger)
    sip_trunk(ledger)
    url = draft_url(finance)
    page = finance.get(url).text
    assert 'data-quantity="3" data-unit-price="40" data-setup-price="99" data-tax-rate="5"' in page
    finance.follow(finance.post(url + "/lines", {"package": "SIP trunk"}))
    finance.follow(
        finance.post(
            url + "/lines",
            {
                "package": "SIP trunk",
                "quantity": "2",
                "unit_price": "35.50",
                "tax_rate": "20",
                "period_start": "2026-10-01",
                "period_end": "2026-10-31",
            },
        )
    )
    finance.follow(finance.post(url + "/lines", {"package": "SIP trunk", "setup": "on"}))
    lines = list(ledger.invoice(invoice_id(url)).lines.values())
    assert [(ln.description, ln.quantity, ln.unit_price, ln.tax_rate) for ln in lines] == [
        ("SIP trunk", Decimal(3), Decimal("40.00"), Decimal(5)),
        ("SIP trunk", Decimal(2), Decimal("35.50"), Decimal(20)),
        ("SIP trunk (setup)", Decimal(3), Decimal("99.00"), Decimal(5)),
    ]
    assert str(lines[1].period_end) == "2026-10-31"
    assert {e.actor for e in ledger.events_of(invoice_id_of(url))[1:]} == {"fiona"}


def invoice_id_of(url: str) -> Any:
    from uuid import UUID

    return UUID(invoice_id(url))


def test_line_errors_sit_at_their_field_and_nothing_is_saved(finance: Browser, ledger: Any) -> None:
    acme(ledger)
    sip_trunk(ledger, currency="EUR", name="Euro trunk")
    url = draft_url(finance)
    cases = [
        (
            {"description": "Porting", "quantity": "0", "unit_price": "5"},
            "add-quantity",
            "quantity must be greater than zero",
        ),
        (
            {"description": "Porting", "unit_price": "-5"},
            "add-unit_price",
            "unit price must not be negative",
        ),
        (
            {"description": "Porting", "unit_price": "5", "tax_rate": "120"},
            "add-tax_rate",
            "tax rate must be between 0 and 100",
        ),
        (
            {
                "description": "Porting",
                "unit_price": "5",
                "period_start": "2026-10-31",
                "period_end": "2026-10-01",
            },
            "add-period_end",
            "line period ends before it starts",
        ),
        ({"package": "Nope"}, "add-package", "unknown package"),
        ({"package": "Euro trunk"}, "add-package", "is priced in eur"),
        ({"unit_price": "5"}, "add-description", "needs a description"),
        (
            {"description": "Porting", "unit_price": "five"},
            "add-unit_price",
            "plain decimal number",
        ),
    ]
    for data, field, words in cases:
        response = finance.post(url + "/lines", data)
        assert response.status_code == 422, data
        assert words in error_of(response.text, field), (data, response.text[-3000:])
        for name, typed in data.items():
            if name != "package":
                assert value_of(response.text, f"add-{name}") == typed
    assert ledger.invoice(invoice_id(url)).lines == {}


def test_edit_and_remove_lines(finance: Browser, ledger: Any) -> None:
    acme(ledger)
    url = draft_url(finance)
    finance.follow(finance.post(url + "/lines", {"description": "Porting", "unit_price": "5"}))
    [line_id] = ledger.invoice(invoice_id(url)).lines
    page = finance.get(url, edit=str(line_id)).text
    assert value_of(page, "edit-description") == "Porting"
    edit = {"description": "Porting x2", "quantity": "2", "unit_price": "5", "tax_rate": "20"}
    bad = finance.post(f"{url}/lines/{line_id}", {**edit, "quantity": "-1"})
    assert bad.status_code == 422
    assert "quantity must be greater than zero" in error_of(bad.text, "edit-quantity")
    assert value_of(bad.text, "edit-description") == "Porting x2"
    assert ledger.invoice(invoice_id(url)).lines[line_id].quantity == 1
    finance.follow(finance.post(f"{url}/lines/{line_id}", edit))
    line = ledger.invoice(invoice_id(url)).lines[line_id]
    assert (line.description, line.quantity) == ("Porting x2", Decimal(2))
    edited = ledger.events_of(line_id_owner := invoice_id_of(url))[-1]
    assert type(edited).__name__ == "LineEdited" and edited.actor == "fiona"
    finance.follow(finance.post(f"{url}/lines/{line_id}/remove"))
    assert ledger.invoice(line_id_owner).lines == {}


def test_dates_form(finance: Browser, ledger: Any) -> None:
    acme(ledger)
    url = draft_url(finance)
    response = finance.post(
        url + "/dates", {"invoice_date": "2026-10-05", "due_date": "2026-10-01"}
    )
    assert "due date 2026-10-01 is before invoice date 2026-10-05" in error_of(
        response.text, "dates-due_date"
    )
    finance.follow(
        finance.post(url + "/dates", {"invoice_date": "2026-10-05", "due_date": "2026-11-05"})
    )
    assert ledger.invoice(invoice_id(url)).due_date.isoformat() == "2026-11-05"


# ------------------------------------------------------------------ issue, credit, void, PDF


def test_issue_credit_void_and_pdf(finance: Browser, ledger: Any) -> None:
    acme(ledger)
    url = draft_url(finance)
    empty = finance.post(url + "/issue")
    assert empty.status_code == 409
    assert "has no lines: nothing to issue" in action_error(empty.text)
    finance.follow(finance.post(url + "/lines", {"description": "Porting", "unit_price": "50"}))
    page = finance.follow(finance.post(url + "/issue")).text
    assert "Invoice issued as INV-2026-000001." in page
    assert "Add a line" not in page and "Issue credit note" in page
    assert finance.post(url + "/issue").status_code == 409  # already issued: refused, shown

    pdf = finance.get(url + ".pdf")
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-")
    assert 'filename="INV-2026-000001.pdf"' in pdf.headers["content-disposition"]

    too_much = finance.post(url + "/credit-notes", {"amount": "80", "reason": "goodwill"})
    assert too_much.status_code == 409
    assert "credit" in error_of(too_much.text, "credit-amount")
    assert value_of(too_much.text, "credit-reason") == "goodwill"
    no_reason = finance.post(url + "/credit-notes", {"amount": "10"})
    assert "a reason is required" in error_of(no_reason.text, "credit-reason")
    assert LogFolds(ledger).credit_notes(invoice_id(url)) == []
    page = finance.follow(
        finance.post(url + "/credit-notes", {"amount": "10", "reason": "goodwill"})
    ).text
    assert "Credit note CN-" in page
    assert ledger.invoice(invoice_id(url)).outstanding == Decimal("48.00")

    refused = finance.post(url + "/void", {"reason": "wrong customer"})
    assert "credit notes applied" in action_error(refused.text)
    assert ledger.invoice(invoice_id(url)).state == "issued"
    other = issued(ledger, "5.00")
    page = finance.follow(
        finance.post(f"/portal/invoices/{other}/void", {"reason": "duplicate"})
    ).text
    assert "voided" in page
    voided = ledger.invoice(other)
    assert voided.state == "void" and voided.void_reason == "duplicate"
    assert ledger.events_of(other)[-1].actor == "fiona"


def test_unknown_invoice_is_a_plain_404_page(finance: Browser) -> None:
    response = finance.get("/portal/invoices/INV-9999")
    assert response.status_code == 404
    assert "Unknown invoice &#39;INV-9999&#39;" in response.text


# ------------------------------------------------------------------ view payments


def test_view_payments_proposes_the_smaller_of_unallocated_and_due(
    finance: Browser, ledger: Any
) -> None:
    acme(ledger)
    invoice = issued(ledger, "100.00")  # 120.00 due
    ledger.record_payment("ACME", "setup", amount=Decimal("500.00"))  # pending: not offered
    small = completed_payment(ledger, "30.00")
    page = finance.get(f"/portal/invoices/{invoice}/payments").text
    assert page.count("unallocated</option>") == 1
    assert value_of(page, "amount") == "30"
    big = completed_payment(ledger, "200.00")
    page = finance.get(f"/portal/invoices/{invoice}/payments").text
    assert f'value="{big}" data-unallocated="200"' in page

    over = finance.post(
        f"/portal/invoices/{invoice}/payments", {"payment": str(small), "amount": "31.00"}
    )
    assert over.status_code == 409
    assert "exceeds the 30.00 gbp unallocated" in error_of(over.text, "amount")
    assert value_of(over.text, "amount") == "31.00"
    assert ledger.invoice(invoice).allocated == 0

    # an empty amount takes the proposal: min(200.00 unallocated, 120.00 due)
    page = finance.follow(
        finance.post(f"/portal/invoices/{invoice}/payments", {"payment": str(big), "amount": ""})
    ).text
    assert "120.00 GBP allocated." in page
    assert ledger.invoice(invoice).outstanding == 0
    assert ledger.payment(big).unallocated == Decimal("80.00")
    assert ledger.events_of(big)[-1].actor == "fiona"
    assert "has no completed payment with money left" not in page


def test_the_allocate_form_pages_past_spent_payments_and_says_when_more_have_credit(
    finance: Browser, ledger: Any, monkeypatch: Any
) -> None:
    from adapters.portal.pages import invoices as pages

    # read two rows a page and offer two payments: spent and pending payments on the
    # first pages must not hide the ones with credit behind them
    monkeypatch.setattr(pages, "MAX_LIMIT", 2)
    monkeypatch.setattr(pages, "MAX_CANDIDATES", 2)
    acme(ledger)
    invoice = issued(ledger, "100.00")  # 120.00 due
    other = issued(ledger, "100.00")
    for _ in range(3):  # spent on another invoice: nothing left to allocate
        ledger.allocate(completed_payment(ledger, "10.00"), [(other, Decimal("10.00"))], "setup")
    ledger.record_payment("ACME", "setup", amount=Decimal("500.00"))  # pending: not offered
    first = completed_payment(ledger, "30.00")
    page = finance.get(f"/portal/invoices/{invoice}/payments").text
    assert page.count("unallocated</option>") == 1 and f'value="{first}"' in page
    assert 'id="payment-more"' not in page

    second = completed_payment(ledger, "40.00")
    third = completed_payment(ledger, "50.00")
    page = finance.get(f"/portal/invoices/{invoice}/payments").text
    assert page.count("unallocated</option>") == 2
    assert f'value="{first}"' in page and f'value="{second}"' in page
    assert f'value="{third}"' not in page
    assert 'id="payment-more"' in page and "has more" in page


# ------------------------------------------------------------------ history and as-of


def test_history_and_the_invoice_as_it_stood(finance: Browser, ledger: Any) -> None:
    acme(ledger)
    url = draft_url(finance)
    finance.follow(finance.post(url + "/lines", {"description": "Porting", "unit_price": "50"}))
    finance.follow(finance.post(url + "/lines", {"description": "Trunk", "unit_price": "10"}))
    finance.follow(finance.post(url + "/issue"))
    events = ledger.events_of(invoice_id_of(url))

    page = finance.get(url + "/history").text
    for kind in ("Drafted", "LineAdded", "Issued"):
        assert f"<td>{kind}</td>" in page
    assert page.count("<td>fiona</td>") == 4

    page = finance.get(url + "/history", version="2").text
    as_of = page[page.index('class="as-of"') :]
    assert "As after version 2" in as_of and "Porting" in as_of and "Trunk" not in as_of
    assert "60.00 GBP" in as_of

    moment = events[2].timestamp.strftime("%Y-%m-%dT%H:%M:%S")  # naive: read as UTC
    page = finance.get(url + "/history", at=moment).text
    as_of = page[page.index('class="as-of"') :]
    assert "Trunk" in as_of and "Draft" in as_of and "72.00 GBP" in as_of

    before = finance.get(url + "/history", at="2020-01-01T00:00:00")
    assert before.status_code == 422
    assert "did not exist at that time" in error_of(before.text, "at")
    bad = finance.get(url + "/history", at="yesterday")
    assert "must look like 2026-10-01t09:30" in error_of(bad.text, "at")
    assert value_of(bad.text, "at") == "yesterday"
    past = ledger.as_of(Invoice, invoice_id_of(url), version=2)
    assert len(past.lines) == 1


def test_the_history_of_an_invoice_drafted_with_its_lines_lists_each_line(
    finance: Browser, ledger: Any
) -> None:
    acme(ledger)
    lines = [
        InvoiceLine(
            line_id=uuid4(),
            description=text,
            quantity=Decimal(1),
            unit_price=Decimal(price),
            tax_rate=Decimal(20),
        )
        for text, price in (("Calls to UK Mobile (2 calls)", "0.04"), ("Trunk", "120"))
    ]
    drafted = ledger.create_invoice("ACME", "billing-run", lines=lines)  # as a billing run does

    page = finance.get(f"/portal/invoices/{drafted}/history").text
    assert page.count("<td>Drafted</td>") == 1 and "<td>LineAdded</td>" not in page
    what = page[page.index('<td class="what">') :].split("</td>")[0]
    assert "with 2 lines:" in what
    assert "\n  line: Calls to UK Mobile (2 calls): 1 × 0.04" in what
    assert "\n  line: Trunk: 1 × 120" in what
    assert (
        "table.timeline td.what { white-space: pre-line; }"
        in finance.get("/portal/static/portal.css").text
    )
