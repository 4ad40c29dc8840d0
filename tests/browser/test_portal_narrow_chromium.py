"""The portal on a phone: at 390 px wide no page scrolls sideways (a wide table scrolls inside
its own box) and the header's links all stay on screen."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from adapters.app.context import Services
from tests.browser.test_portal_chromium import TIMEOUT_MS, services_users, sign_in
from tests.portal.support import PASSWORD

WIDTH = 390

OVERFLOW = """() => ({
  page: document.documentElement.scrollWidth,
  tables: [...document.querySelectorAll('.table-scroll')].map(
    box => ({inside: box.getBoundingClientRect().right <= innerWidth + 0.5,
             scrolls: box.scrollWidth > box.clientWidth})),
  header: [...document.querySelectorAll('header.top a, header.top button')].map(
    e => e.getBoundingClientRect()).every(r => r.left >= 0 && r.right <= innerWidth),
})"""


WIDER = """() => [...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > innerWidth + 0.5)
  .filter(e => !e.closest('.table-scroll'))
  .slice(0, 5).map(e => e.tagName + '.' + e.className)"""


def test_every_page_fits_a_390_pixel_screen(
    server: tuple[str, Services], browser: Any, shots: Any
) -> None:
    base, services = server
    services_users(services).add("fiona", "finance", PASSWORD)
    ledger = services.ledger
    ledger.register_customer(
        "setup",
        account_number="ACME-INTERNATIONAL-WHOLESALE",
        name="Acme International Wholesale Telecommunications Ltd",
        currency="GBP",
        tax_rate=Decimal(20),
        tax_description="VAT 20%",
        payment_terms_days=30,
    )
    invoice_id = ledger.create_invoice("ACME-INTERNATIONAL-WHOLESALE", "setup")
    for n in range(3):
        ledger.add_line(
            invoice_id,
            "setup",
            description=f"Termination to premium-rate and shared-cost numbers, route {n}",
            quantity=Decimal("123456.5"),
            unit_price=Decimal("0.01234567"),
        )
    number = ledger.issue_invoice(invoice_id, "setup")
    ledger.issue_credit_note(number, "setup", "outage", amount=Decimal("10.00"))
    payment = ledger.record_payment(
        "ACME-INTERNATIONAL-WHOLESALE", "setup", amount=Decimal("100"), status="completed"
    )

    context = browser.new_context(viewport={"width": WIDTH, "height": 844})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    sign_in(page, base, "fiona")
    scrolled = 0
    for path in (
        "/portal/invoices",
        f"/portal/invoices/{invoice_id}",
        f"/portal/invoices/{invoice_id}/history",
        f"/portal/invoices/{invoice_id}/payments",
        "/portal/customers",
        "/portal/customers/ACME-INTERNATIONAL-WHOLESALE",
        "/portal/payments",
        f"/portal/payments/{payment}",
        "/portal/settings",
    ):
        page.goto(base + path)
        found = page.evaluate(OVERFLOW)
        if path.count("/") == 3:  # the list and one invoice, for a reviewer's eye
            shots(page, path.strip("/").replace("/", "-")[:40])
        wide = page.evaluate(WIDER)  # what sticks out, to name it when the check fails
        assert found["page"] <= WIDTH, (path, found, wide)
        assert found["header"], path
        assert all(table["inside"] for table in found["tables"]), (path, found)
        scrolled += sum(table["scrolls"] for table in found["tables"])
    assert scrolled >= 2  # the wide tables do scroll, inside their boxes
