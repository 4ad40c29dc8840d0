"""The portal's e-invoice downloads: a link on an issued invoice (not on a draft) and on each
of its credit notes, serving the same Factur-X bytes as the API and the CLI; signed when a
signing key is configured. (SQLite: documents, not storage.)"""

from __future__ import annotations

import pytest

from adapters.einvoice.pdfa3 import embedded_xml
from adapters.einvoice.signing import SigningConfig
from adapters.einvoice.sources import credit_note_facturx, invoice_facturx
from adapters.einvoice.verify import verify
from adapters.pdf.config import PdfConfig
from tests.einvoice_support import (
    assert_en16931,
    cycle,
    seller_p12,  # noqa: F401  (the module's key)
    signing,  # noqa: F401
    store_url,  # noqa: F401  (SQLite only)
)


def test_issued_invoice_and_its_credit_notes_link_their_factur_x(finance, ledger):
    books = cycle(ledger)
    issued = ledger.invoice(books.numbers[0])
    note = ledger.credit_note(books.credit_note)
    draft = ledger.create_invoice("SIB01", "test")

    page = finance.get(f"/portal/invoices/{issued.id}").text
    draft_page = finance.get(f"/portal/invoices/{draft}").text
    link = f"/portal/invoices/{issued.id}.pdf?format=factur-x"
    note_link = f"/portal/credit-notes/{note.id}.pdf?format=factur-x"
    download = finance.get(f"/portal/invoices/{issued.id}.pdf", format="factur-x")
    note_download = finance.get(f"/portal/credit-notes/{note.id}.pdf", format="factur-x")

    assert f'href="{link}"' in page and "Download e-invoice (Factur-X)" in page
    assert f'href="{note_link}"' in page
    assert f"Download {note.number} as e-invoice (Factur-X)" in page
    assert "Factur-X" not in draft_page
    assert download.status_code == 200
    assert download.content == invoice_facturx(ledger, issued.id, PdfConfig()).pdf
    assert_en16931(embedded_xml(download.content))
    assert note_download.status_code == 200
    assert note_download.content == credit_note_facturx(ledger, note.id, PdfConfig()).pdf
    assert b"<ram:TypeCode>381</ram:TypeCode>" in embedded_xml(note_download.content)


@pytest.mark.usefixtures("signing")
def test_with_a_signing_key_the_portal_hands_out_signed_pdfs(finance, ledger):
    books = cycle(ledger)
    note = ledger.credit_note(books.credit_note)
    key = SigningConfig.from_env()
    assert key is not None

    for url in (f"/portal/credit-notes/{note.id}.pdf", f"/portal/invoices/{books.two_rates}.pdf"):
        download = finance.get(url, format="factur-x")
        verdict = verify(download.content, ledger, PdfConfig(), key.certificate())
        assert verdict.signature.status == "intact", url
        assert verdict.signature.seller_certificate is True, url
        assert verdict.outcome == "verified", url
