"""The finance portal end to end in Chromium: a finance user bills a customer from a package,
edits and issues the invoice, downloads its PDF, records a payment and allocates it across two
invoices, sees the balance move, reads the history and the as-of view; an auditor then finds
nothing they can change, and the server refuses their forced attempts."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from adapters.app.context import Services
from adapters.ledger.folds import LogFolds
from tests.portal.support import PASSWORD

TIMEOUT_MS = 60_000  # a ceiling, not a speed check (see test_api_docs_chromium)


def sign_in(page: Any, base: str, username: str, shots: Any = None) -> None:
    page.goto(f"{base}/portal/invoices")  # not signed in: sent to the sign-in page
    assert "/portal/login" in page.url
    if shots:
        shots(page, "sign-in")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/portal/invoices$"))


def new_invoice_with_line(page: Any, base: str, description: str, price: str) -> str:
    page.goto(f"{base}/portal/invoices/new?customer=ACME")
    page.get_by_role("button", name="Open draft").click()
    page.wait_for_url(re.compile(r"/portal/invoices/[0-9a-f-]{36}$"))
    page.locator("#add-description").fill(description)
    page.locator("#add-unit_price").fill(price)
    page.get_by_role("button", name="Add line").click()
    page.get_by_text("Line added.").wait_for()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Issue invoice").click()
    page.get_by_text(re.compile(r"Invoice issued as INV-")).wait_for()
    return str(page.url)


def test_finance_bills_and_collects_then_auditor_only_reads(
    server: tuple[str, Services], browser: Any, shots: Any
) -> None:
    base, services = server
    users = services_users(services)
    users.add("fiona", "finance", PASSWORD)
    users.add("audrey", "auditor", PASSWORD)
    services.ledger.define_package(
        "setup",
        name="SIP trunk",
        description="10 channels",
        currency="GBP",
        unit_price=Decimal("40.00"),
        default_quantity=Decimal(3),
        tax_rate=Decimal(20),
        tax_description="VAT 20%",
    )
    context = browser.new_context(viewport={"width": 1366, "height": 768}, accept_downloads=True)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()

    sign_in(page, base, "fiona", shots)
    shots(page, "invoices-empty")

    # a customer; a bad tax rate first: the error sits at the field and the form keeps the input
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Customers").click()
    page.get_by_role("link", name="+ New customer").click()
    page.locator("#account_number").fill("ACME")
    page.locator("#name").fill("Acme Telecom Ltd")
    page.locator("#currency").fill("GBP")
    page.locator("#tax_rate").fill("twenty")
    page.get_by_role("button", name="Register customer").click()
    error = page.locator("#tax_rate-error")
    assert "tax rate must be a plain decimal number" in error.inner_text().lower()
    assert page.locator("#name").input_value() == "Acme Telecom Ltd"
    shots(page, "customer-form-error")
    page.locator("#tax_rate").fill("20")
    page.get_by_role("button", name="Register customer").click()
    page.get_by_text("Customer ACME registered.").wait_for()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Customers").click()
    shots(page, "customers")
    page.get_by_role("link", name="ACME").click()

    # an invoice from the package: the picker fills quantity, price and tax
    page.get_by_role("link", name="+ New invoice").click()
    shots(page, "invoice-new")
    page.get_by_role("button", name="Open draft").click()
    page.locator("#add-package").fill("SIP trunk")
    page.locator("#add-package").dispatch_event("change")
    assert page.locator("#add-quantity").input_value() == "3"
    assert page.locator("#add-unit_price").input_value() == "40"
    assert page.locator("#add-tax_rate").input_value() == "20"
    shots(page, "invoice-draft-package-picked")
    page.get_by_role("button", name="Add line").click()
    page.get_by_text("Line added.").wait_for()

    # edit the line: 2 trunks at 45.00
    page.get_by_role("link", name="Edit line 1").click()
    page.locator("#edit-quantity").fill("2")
    page.locator("#edit-unit_price").fill("45.00")
    shots(page, "invoice-line-edit")
    page.get_by_role("button", name="Save line").click()
    page.get_by_text("Line saved.").wait_for()
    assert "108.00 GBP" in page.locator(".totals-table").inner_text()  # 2 x 45 + 20% VAT

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Issue invoice").click()
    page.get_by_text("Invoice issued as INV-2026-000001.").wait_for()
    first_invoice = str(page.url)
    shots(page, "invoice-issued")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download PDF").click()
    pdf = download.value
    assert pdf.suggested_filename == "INV-2026-000001.pdf"
    with open(pdf.path(), "rb") as handle:
        assert handle.read(5) == b"%PDF-"

    second_invoice = new_invoice_with_line(page, base, "Porting fee", "50.00")  # 60.00 with VAT

    # a payment of 150.00, allocated across both invoices at once (108.00 + 42.00)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Payments").click()
    page.locator("#pay-customer").fill("ACME")
    page.locator("#pay-amount").fill("150.00")
    page.locator("#pay-reference").fill("BACS 7781")
    page.get_by_role("button", name="Record payment").click()
    page.get_by_text("Payment of 150.00 GBP recorded (completed).").wait_for()
    page.get_by_role("button", name="Fill oldest first").click()
    assert page.get_by_label("Allocate to INV-2026-000001").input_value() == "108.00"
    assert page.get_by_label("Allocate to INV-2026-000002").input_value() == "42.00"
    shots(page, "payment-allocate-across-invoices")
    page.get_by_role("button", name="Allocate", exact=True).click()
    page.get_by_text("150.00 GBP allocated over 2 invoices.").wait_for()
    assert page.locator("#unallocated").inner_text() == "0.00 GBP"
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Payments").click()
    shots(page, "payments")

    # the invoice's payments, and the customer's balance updated
    page.goto(second_invoice)
    page.get_by_role("link", name="View Payments").click()
    assert page.locator("#amount-due").inner_text() == "18.00 GBP"
    shots(page, "invoice-view-payments")
    page.goto(f"{base}/portal/customers/ACME")
    balance = page.locator("#balance-GBP")
    assert "168.00 GBP" in balance.inner_text()  # invoiced
    assert balance.locator(".outstanding").inner_text() == "18.00 GBP"
    assert page.locator("svg[role=img] rect.bar-invoiced").count() == 12
    shots(page, "customer")

    # history: the timeline names fiona; the invoice as it stood after version 2 (one line)
    page.goto(first_invoice + "/history")
    timeline = page.locator("table.timeline").inner_text()
    assert "fiona" in timeline and "LineEdited" in timeline and "PaymentApplied" in timeline
    page.get_by_role("link", name="As it stood after this").nth(1).click()
    as_of = page.locator(".as-of").inner_text()
    assert "As after version 2" in as_of and "Draft" in as_of and "144.00 GBP" in as_of
    shots(page, "invoice-history-as-of-version")
    issued_at = services.ledger.events_of(services.ledger.invoice_id("INV-2026-000001"))[3]
    page.get_by_label("Moment (UTC)").fill(issued_at.timestamp.strftime("%Y-%m-%dT%H:%M:%S"))
    page.get_by_role("button", name="Show").click()
    as_of = page.locator(".as-of").inner_text()
    assert "INV-2026-000001" in as_of and "Issued" in as_of and "Amount due\t108.00" in as_of
    shots(page, "invoice-history-as-of-moment")
    page.goto(f"{base}/portal/invoices?sort=number&dir=asc")
    assert page.locator("tfoot").inner_text().count("GBP") >= 1
    shots(page, "invoices")

    # the auditor: every page readable, nothing to press, and forced posts refused
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, base, "audrey")
    page.goto(first_invoice)
    assert page.get_by_text("Read-only").is_visible()
    for action in ("Issue credit note", "Void invoice", "Add line"):
        assert page.get_by_role("button", name=action).count() == 0
    shots(page, "auditor-invoice")
    page.goto(f"{base}/portal/payments")
    assert page.get_by_role("button", name="Record payment").count() == 0
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    forced = page.request.post(
        f"{base}/portal/payments",
        form={"csrf_token": token, "customer": "ACME", "amount": "1.00"},
    )
    assert forced.status == 403
    assert "auditors can look at everything but cannot change anything" in forced.text()
    forced = page.request.post(first_invoice + "/void", form={"csrf_token": token, "reason": "try"})
    assert forced.status == 403
    assert services.ledger.invoice("INV-2026-000001").state == "issued"
    assert len(LogFolds(services.ledger).payments("ACME")) == 1
    context.close()


def services_users(services: Services) -> Any:
    from adapters.app.users import Users

    return Users(services.db)
