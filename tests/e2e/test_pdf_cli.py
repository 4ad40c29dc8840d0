"""``tollbook invoice pdf`` and ``tollbook credit-note pdf`` through the command line."""

from __future__ import annotations

import hashlib
from datetime import date
from decimal import Decimal as D

import pytest

from adapters.pdf.render import render
from adapters.pdf.sources import invoice_source
from tests.pdf_support import flowing, page_texts


@pytest.fixture
def books(ledger):
    """Two October invoices issued, one November invoice issued, one October draft."""
    ledger.register_customer(
        "t",
        account_number="ZRH01",
        name="Zürich Telekom AG",
        currency="CHF",
        tax_rate=D("8.1"),
        tax_description="MWST",
        payment_terms_days=30,
    )
    numbers = []
    for start, amount in (
        (date(2026, 10, 1), "100"),
        (date(2026, 10, 1), "250.5"),
        (date(2026, 11, 1), "75"),
    ):
        invoice_id = ledger.create_invoice(
            "ZRH01", "t", period_start=start, period_end=start.replace(day=28)
        )
        ledger.add_line(
            invoice_id, "t", description="Transit", quantity=D("1"), unit_price=D(amount)
        )
        numbers.append(ledger.issue_invoice(invoice_id, "t"))
    draft = ledger.create_invoice("ZRH01", "t", period_start=date(2026, 10, 1))
    ledger.add_line(draft, "t", description="Pending", quantity=D("1"), unit_price=D("1"))
    return numbers


def test_one_invoice_to_a_file_with_its_checksum(ledger, tollbook, books, tmp_path):
    target = tmp_path / "out.pdf"

    result = tollbook("invoice", "pdf", books[0], "-o", str(target), "--json")

    assert result.code == 0, result.err
    report = result.json()
    data = target.read_bytes()
    assert report == {
        "document": books[0],
        "path": str(target),
        "pages": 1,
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    assert data == render(invoice_source(ledger, books[0])).pdf
    assert "Zürich Telekom AG" in page_texts(data)[0]


def test_the_auditor_view_through_the_cli(ledger, tollbook, books, tmp_path):
    target = tmp_path / "then.pdf"
    drafted = ledger.events_of(ledger.invoice_id(books[0]))[0].timestamp  # before any line
    moment = drafted.strftime("%Y-%m-%dT%H:%M:%SZ")

    result = tollbook("invoice", "pdf", books[0], "-o", str(target), "--as-of", moment)

    assert result.code == 0, result.err
    text = flowing(page_texts(target.read_bytes())[0])
    assert "DRAFT" in text and f"As it stood at {drafted:%Y-%m-%d %H:%M:%S} UTC" in text
    assert "Transit" not in text and "Amount due (CHF) 0.00" in text
    late = tollbook("invoice", "pdf", books[0], "--as-of", "2026-10-01")
    assert late.code == 2 and "time zone" in late.err


def test_all_invoices_of_a_month_in_parallel_with_checksums(ledger, tollbook, books, tmp_path):
    out_dir = tmp_path / "october"

    result = tollbook(
        "invoice", "pdf", "--all", "--period", "2026-10", "-o", str(out_dir), "-j", "2", "--json"
    )

    assert result.code == 0, result.err
    reports = result.json()
    assert [r["document"] for r in reports] == books[:2]  # not November's, not the draft
    assert sorted(p.name for p in out_dir.iterdir()) == [
        f"{books[0]}.pdf",
        f"{books[1]}.pdf",
        "SHA256SUMS",
    ]
    sums = (out_dir / "SHA256SUMS").read_text().splitlines()
    for line, number in zip(sums, books[:2], strict=True):
        data = (out_dir / f"{number}.pdf").read_bytes()
        assert line == f"{hashlib.sha256(data).hexdigest()}  {number}.pdf"
        assert data == render(invoice_source(ledger, number)).pdf  # same bytes as one by one


def _batch(tollbook, out_dir, workers):
    return tollbook(
        "invoice", "pdf", "--all", "--period", "2026-10", "--drafts", "-o", str(out_dir),
        "--workers", str(workers), "--json",
    )  # fmt: skip


def test_two_workers_write_the_same_files_as_one(tollbook, books, tmp_path):
    one, two = _batch(tollbook, tmp_path / "one", 1), _batch(tollbook, tmp_path / "two", 2)

    assert one.code == 0 and two.code == 0, (one.err, two.err)
    assert [r["sha256"] for r in one.json()] == [r["sha256"] for r in two.json()]
    names = sorted(p.name for p in (tmp_path / "one").iterdir())
    assert len(names) == 4 and "SHA256SUMS" in names  # two October invoices, the draft, sums
    assert names == sorted(p.name for p in (tmp_path / "two").iterdir())
    for name in names:  # byte for byte, the checksums file included
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()


@pytest.mark.parametrize("workers", [1, 2])
def test_an_invoice_that_fails_is_reported_and_the_others_are_written(
    ledger, tollbook, books, tmp_path, workers
):
    out_dir = tmp_path / "october"
    (out_dir / f"{books[0]}.pdf").mkdir(parents=True)  # a directory where its file should go

    result = _batch(tollbook, out_dir, workers)

    assert result.code == 1
    assert "[some_failed]" in result.err and "1 of 3 PDFs failed" in result.err
    failed_id = ledger.invoice_id(books[0])
    assert f"failed: invoice {failed_id}: " in result.err and f"{books[0]}.pdf" in result.err
    documents = [r["document"] for r in result.json()]  # the others, as usual
    assert len(documents) == 2 and books[1] in documents and books[0] not in documents
    data = (out_dir / f"{books[1]}.pdf").read_bytes()
    assert data == render(invoice_source(ledger, books[1])).pdf
    sums = (out_dir / "SHA256SUMS").read_text()
    assert f"{books[1]}.pdf" in sums and f"{books[0]}.pdf" not in sums
    assert len(sums.splitlines()) == 2  # the other invoice and the draft


def test_a_credit_note_pdf(ledger, tollbook, books, tmp_path):
    note = ledger.issue_credit_note(books[1], "t", "Goodwill", amount=D("50"))

    result = tollbook("credit-note", "pdf", note, "-o", str(tmp_path))

    assert result.code == 0, result.err
    data = (tmp_path / f"{note}.pdf").read_bytes()
    text = flowing(page_texts(data)[0])
    assert "CREDIT NOTE" in text and f"Credits invoice {books[1]}" in text
    assert "Goodwill" in text and "Total credit (CHF) 54.05" in text  # 50 + 8.1%
    assert hashlib.sha256(data).hexdigest() in result.out


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["invoice", "pdf", "INV-1999-000001"], 3, "unknown invoice"),
        (["invoice", "pdf", "--all", "--period", "2026-13", "-o", "{tmp}/x"], 2, "month"),
        (["invoice", "pdf", "--all", "--period", "2026-10"], 2, "-o DIRECTORY"),
        (["invoice", "pdf"], 2, "give an invoice"),
        (["credit-note", "pdf", "CN-1999-000001"], 3, "unknown credit note"),
    ],
)
def test_bad_requests_fail_with_a_clear_message_and_write_nothing(
    tollbook, books, tmp_path, monkeypatch, args, code, message
):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)  # where a PDF without -o would land
    argv = [a.replace("{tmp}", str(work)) for a in args]

    result = tollbook(*argv)

    assert result.code == code
    assert message in result.err
    assert list(work.iterdir()) == []
