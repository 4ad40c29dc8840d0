"""PDF downloads the API and the portal both answer: the same bytes as the CLI writes."""

from __future__ import annotations

from uuid import UUID

from fastapi import Response

from adapters.ledger.application import Ledger


def pdf_attachment(pdf: bytes, label: str) -> Response:
    """``pdf`` as a download named after the document (``label``, made safe for a file)."""
    from adapters.pdf.batch import file_name

    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{file_name(label)}"'},
    )


def credit_note_pdf(ledger: Ledger, ref: str | UUID) -> Response:
    """The credit note's PDF, rendered as ``tollbook credit-note pdf`` renders it."""
    # the PDF adapter (fpdf2, fontTools) loads only when a PDF is asked for
    from adapters.pdf.config import PdfConfig
    from adapters.pdf.render import render
    from adapters.pdf.sources import credit_note_source

    document = credit_note_source(ledger, ref)
    return pdf_attachment(bytes(render(document, PdfConfig.from_env()).pdf), document.reference)
