"""The portal's e-invoice download: a link on an issued invoice (not on a draft), serving the
same Factur-X bytes as the API and the CLI. (SQLite: documents, not storage.)"""

from __future__ import annotations

from adapters.einvoice.pdfa3 import embedded_xml
from adapters.einvoice.sources import invoice_facturx
from adapters.pdf.config import PdfConfig
from tests.einvoice_support import (
    assert_en16931,
    cycle,
    store_url,  # noqa: F401  (SQLite only)
)


def test_issued_invoice_page_links_its_factur_x(finance, ledger):
    books = cycle(ledger)
    issued = ledger.invoice(books.numbers[0])
    draft = ledger.create_invoice("SIB01", "test")

    page = finance.get(f"/portal/invoices/{issued.id}").text
    draft_page = finance.get(f"/portal/invoices/{draft}").text
    link = f"/portal/invoices/{issued.id}.pdf?format=factur-x"
    download = finance.get(f"/portal/invoices/{issued.id}.pdf", format="factur-x")

    assert f'href="{link}"' in page and "Download e-invoice (Factur-X)" in page
    assert "Factur-X" not in draft_page
    assert download.status_code == 200
    assert download.content == invoice_facturx(ledger, issued.id, PdfConfig()).pdf
    assert_en16931(embedded_xml(download.content))
