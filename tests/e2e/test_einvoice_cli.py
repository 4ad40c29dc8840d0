"""``invoice pdf --factur-x``, ``credit-note pdf --factur-x``, signing and
``invoice verify-pdf`` through the command line.

Keys are made in the test with ``cryptography`` (a throwaway self-signed RSA certificate).
The CLI is run on SQLite only: these tests are about documents, not storage.
"""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from adapters.einvoice.pdfa3 import embedded_xml
from tests.einvoice_support import (
    assert_en16931,
    certificate,
    cycle,
    seller_p12,  # noqa: F401  (the module's key)
    signing,  # noqa: F401
    store_url,  # noqa: F401  (SQLite only)
)


@pytest.fixture
def books(ledger):
    return cycle(ledger)


def test_factur_x_of_an_invoice_and_a_credit_note(tollbook, books, tmp_path):
    invoice_pdf = tmp_path / "inv.pdf"
    note_pdf = tmp_path / "cn.pdf"

    first = tollbook(
        "invoice", "pdf", books.numbers[0], "--factur-x", "-o", str(invoice_pdf), "--json"
    )
    again = tollbook(
        "invoice", "pdf", books.numbers[0], "--factur-x", "-o", str(tmp_path), "--json"
    )
    note = tollbook("credit-note", "pdf", books.credit_note, "--factur-x", "-o", str(note_pdf))

    assert first.code == 0, first.err
    assert first.json()["sha256"] == again.json()["sha256"]  # same ledger, same bytes
    assert note.code == 0, note.err
    for path in (invoice_pdf, note_pdf):
        assert_en16931(embedded_xml(path.read_bytes()))
    assert b"<ram:TypeCode>381</ram:TypeCode>" in embedded_xml(note_pdf.read_bytes())
    # the credit note is found by the number in its XML, and is the ledger's
    verdict = tollbook("invoice", "verify-pdf", str(note_pdf), "--json")
    assert verdict.code == 6
    assert verdict.json()["factur_x"] is True
    assert verdict.json()["ledger"]["document"] == "credit_note"
    assert verdict.json()["ledger"]["status"] == "current"


def test_a_draft_is_no_e_invoice(tollbook, ledger, books, tmp_path):
    draft = ledger.create_invoice("SIB01", "test")

    result = tollbook("invoice", "pdf", str(draft), "--factur-x", "-o", str(tmp_path))

    assert result.code == 1
    assert "draft has no number" in result.err and "[einvoice_not_possible]" in result.err
    assert list(tmp_path.glob("*.pdf")) == []


@pytest.mark.usefixtures("signing")
def test_signed_pdf_verifies_and_a_flipped_byte_does_not(tollbook, books, tmp_path):
    signed = tmp_path / "signed.pdf"
    made = tollbook("invoice", "pdf", books.numbers[2], "--factur-x", "-o", str(signed))

    ok = tollbook("invoice", "verify-pdf", str(signed), "--json")
    tampered = bytearray(signed.read_bytes())
    tampered[len(tampered) // 3] ^= 0x01
    broken_file = tmp_path / "broken.pdf"
    broken_file.write_bytes(bytes(tampered))
    broken = tollbook("invoice", "verify-pdf", str(broken_file), "--json")

    assert made.code == 0, made.err
    assert ok.code == 0, ok.err
    doc = ok.json()
    assert doc["verdict"] == "verified"
    assert doc["signature"]["status"] == "intact"
    assert doc["signature"]["seller_certificate"] is True
    assert "Northwind Voice Ltd" in doc["signature"]["signer"]
    assert doc["ledger"] == {
        "status": "current",
        "document": "invoice",
        "number": books.numbers[2],
        "as_of": None,
        "problem": None,
    }
    assert broken.code == 1
    assert broken.json()["verdict"] == "failed"
    assert broken.json()["signature"]["status"] == "broken"


def test_unsigned_pdf_is_reported_unsigned_and_tracks_the_ledger(tollbook, ledger, books, tmp_path):
    plain = tmp_path / "plain.pdf"
    tollbook("invoice", "pdf", books.numbers[2], "-o", str(plain))

    before = tollbook("invoice", "verify-pdf", str(plain))
    payment = ledger.record_payment("BER01", "test", amount=D("100"), status="completed")
    ledger.allocate(payment, [(books.numbers[2], D("100"))], "test")
    after = tollbook("invoice", "verify-pdf", str(plain), "--json")

    assert before.code == 6
    assert "signature: unsigned" in before.out
    assert f"matches invoice {books.numbers[2]} as it stands now" in before.out
    # a payment later, the file is the invoice as it stood before it
    assert after.code == 6
    assert after.json()["ledger"]["status"] == "earlier"
    assert after.json()["signature"]["status"] == "unsigned"


def test_an_auditor_view_verifies_as_the_state_it_says_it_shows(tollbook, ledger, books, tmp_path):
    """``invoice pdf --as-of T`` prints "As it stood at T": verify-pdf renders it again at T."""
    number = books.numbers[2]
    moment = ledger.clock().replace(microsecond=0)
    payment = ledger.record_payment("BER01", "test", amount=D("100"), status="completed")
    ledger.allocate(payment, [(number, D("100"))], "test")
    then = tmp_path / "then.pdf"
    fx = tmp_path / "then-fx.pdf"
    tollbook("invoice", "pdf", number, "--as-of", moment.isoformat(), "-o", str(then))
    tollbook("invoice", "pdf", number, "--factur-x", "--as-of", moment.isoformat(), "-o", str(fx))

    plain = tollbook("invoice", "verify-pdf", str(then), "--json")
    with_xml = tollbook("invoice", "verify-pdf", str(fx), "--json")

    for result in (plain, with_xml):
        assert result.code == 6, result.out
        assert result.json()["ledger"]["status"] == "earlier"
        assert result.json()["ledger"]["as_of"].startswith(moment.strftime("%Y-%m-%dT%H:%M:%S"))
    assert with_xml.json()["factur_x"] is True


def test_a_pdf_the_ledger_never_made_fails(tollbook, books, tmp_path):
    plain = tmp_path / "plain.pdf"
    tollbook("invoice", "pdf", books.numbers[2], "-o", str(plain))
    data = plain.read_bytes()
    # the same metadata, other content: the PDF of another invoice under this one's subject
    other = tmp_path / "other.pdf"
    tollbook("invoice", "pdf", books.numbers[0], "-o", str(other))
    forged = other.read_bytes().replace(
        f"Invoice {books.numbers[0]}".encode(), f"Invoice {books.numbers[2]}".encode()
    )
    (tmp_path / "forged.pdf").write_bytes(forged)

    result = tollbook("invoice", "verify-pdf", str(tmp_path / "forged.pdf"), "--json")

    assert data != forged
    assert result.code == 1
    assert result.json()["ledger"]["status"] == "mismatch"


def test_signature_by_another_key_is_not_the_sellers(
    tollbook,
    books,
    seller_p12,  # noqa: F811  (the module's key, imported)
    tmp_path,
    monkeypatch,
):
    key, cert = certificate("Mallory Ltd")
    other = tmp_path / "other.p12"
    other.write_bytes(
        pkcs12.serialize_key_and_certificates(b"x", key, cert, None, serialization.NoEncryption())
    )
    signed = tmp_path / "signed.pdf"
    monkeypatch.setenv("TOLLBOOK_SIGNING_PKCS12", str(other))
    made = tollbook("invoice", "pdf", books.numbers[0], "-o", str(signed))
    monkeypatch.setenv("TOLLBOOK_SIGNING_PKCS12", str(seller_p12))
    monkeypatch.setenv("TOLLBOOK_SIGNING_PASSPHRASE", "s3cret")

    result = tollbook("invoice", "verify-pdf", str(signed), "--json")

    assert made.code == 0, made.err
    doc = result.json()
    assert doc["signature"]["status"] == "intact"
    assert "Mallory Ltd" in doc["signature"]["signer"]
    assert doc["signature"]["seller_certificate"] is False
    assert doc["ledger"]["status"] == "current"
    assert (result.code, doc["verdict"]) == (1, "failed")
