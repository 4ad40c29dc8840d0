"""The PDF an entry point hands out for an invoice or credit note, plain or as a Factur-X
e-invoice: the same bytes as the CLI's ``invoice pdf [--factur-x]``, whichever surface asks.
With a signing key configured (``TOLLBOOK_SIGNING_*``) every download is PAdES-signed at the
ledger's clock, as the CLI signs: the unsigned document's bytes, then the signature.

The PDF and e-invoice adapters are imported when a document is asked for, not when the API or
portal starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from adapters.ledger.application import Ledger

PdfFormat = Literal["pdf", "factur-x"]
MEDIA_TYPE = "application/pdf"


@dataclass(frozen=True, slots=True)
class Download:
    content: bytes
    filename: str

    @property
    def disposition(self) -> str:
        return f'attachment; filename="{self.filename}"'


def invoice_download(
    ledger: Ledger, ref: str, fmt: PdfFormat = "pdf", *, at: datetime | None = None
) -> Download:
    """The invoice's PDF (as it stood at ``at``); ``factur-x``: its EN 16931 e-invoice."""
    from adapters.einvoice.sources import invoice_facturx
    from adapters.pdf.config import PdfConfig
    from adapters.pdf.render import render
    from adapters.pdf.sources import invoice_source

    config = PdfConfig.from_env()
    invoice = ledger.invoice(ref)
    name = invoice.number or f"draft-{str(invoice.id)[:8]}"
    if fmt == "factur-x":
        pdf = invoice_facturx(ledger, invoice.id, config, at=at).pdf
    else:
        pdf = render(invoice_source(ledger, invoice.id, at=at), config).pdf
    return Download(_signed(ledger, pdf), f"{name}.pdf")


def credit_note_download(ledger: Ledger, ref: str, fmt: PdfFormat = "pdf") -> Download:
    """The credit note's PDF; ``factur-x``: its EN 16931 e-invoice (type 381)."""
    from adapters.einvoice.sources import credit_note_facturx
    from adapters.pdf.config import PdfConfig
    from adapters.pdf.render import render
    from adapters.pdf.sources import credit_note_source

    config = PdfConfig.from_env()
    note = ledger.credit_note(ref)
    if fmt == "factur-x":
        pdf = credit_note_facturx(ledger, note.id, config).pdf
    else:
        pdf = render(credit_note_source(ledger, note.id), config).pdf
    return Download(_signed(ledger, pdf), f"{note.number}.pdf")


def _signed(ledger: Ledger, pdf: bytes) -> bytes:
    from adapters.einvoice.signing import sign_if_configured

    return sign_if_configured(pdf, ledger.clock())
