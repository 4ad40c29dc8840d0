"""``tollbook invoice verify-pdf``: is this PDF signed, by whom, untouched since, and is it the
document the ledger holds — now, or as it stood at an earlier moment?

The signature is checked by pyhanko: the signed bytes' digest against the signature (a single
changed byte breaks it), the certificate it names, and whether that certificate is the
seller's configured one. The content is checked against the ledger by rendering again: an
unsigned file must equal the rendering byte for byte, a signed file must start with it (a
signature is an incremental update appended to the unsigned bytes). The document is found by
the number the file names (the Factur-X XML's BT-1, else the PDF's subject); an invoice is
tried as it stands now and then as it stood after each of its events, newest first. An
auditor view (``invoice pdf --as-of T``, ``GET /invoices/{ref}.pdf?as_of=T``) prints "As it
stood at T" on its first page: it is tried first, rendered again at that moment with the line.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from asn1crypto import x509 as asn1_x509
from lxml import etree
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext
from pypdf import PdfReader
from pypdf.errors import PdfReadError

from adapters.einvoice.pdfa3 import embedded_xml
from adapters.einvoice.sources import credit_note_facturx, invoice_facturx
from adapters.ledger.application import Ledger
from adapters.pdf.config import PdfConfig
from adapters.pdf.render import render
from adapters.pdf.sources import credit_note_source, invoice_source
from domain.errors import BillingError, InvalidInput

MAX_FILE_BYTES = 50 * 1024 * 1024
_CII_ID = "{urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100}ExchangedDocument"
_RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"

# a file from anywhere: no DTD, no entities, nothing fetched
_SAFE_XML = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)

#: the facts line of an auditor view (adapters/pdf/document.py ``_as_of_fact``)
_AS_OF = re.compile(r"As it stood at\s*(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) UTC")

SignatureStatus = Literal["unsigned", "intact", "broken"]
LedgerStatus = Literal["current", "earlier", "mismatch", "unknown"]


@dataclass(frozen=True, slots=True)
class SignatureCheck:
    status: SignatureStatus
    signer: str = ""
    fingerprint: str = ""  # SHA-256 of the signer's certificate
    seller_certificate: bool | None = None  # None: no seller certificate configured
    signed_at: datetime | None = None
    problem: str = ""


@dataclass(frozen=True, slots=True)
class LedgerCheck:
    status: LedgerStatus
    kind: str = ""  # "invoice" | "credit_note"
    number: str = ""
    as_of: datetime | None = None  # the moment it matches, when not the current state
    problem: str = ""


@dataclass(frozen=True, slots=True)
class Verdict:
    signature: SignatureCheck
    ledger: LedgerCheck
    factur_x: bool = False
    lines: list[str] = field(default_factory=list)

    @property
    def outcome(self) -> Literal["verified", "unsigned", "failed"]:
        if self.signature.status == "broken" or self.ledger.status in ("mismatch", "unknown"):
            return "failed"
        if self.signature.status == "unsigned":
            return "unsigned"
        if self.signature.seller_certificate is False:
            return "failed"
        return "verified"


def check_file(data: bytes) -> None:
    """A file worth reading: a PDF within the size limit."""
    if len(data) > MAX_FILE_BYTES:
        raise InvalidInput(
            f"the file has {len(data):,} bytes: verify-pdf reads at most {MAX_FILE_BYTES:,}",
            field="file",
        )
    if not data.startswith(b"%PDF-"):
        raise InvalidInput("the file is not a PDF (it does not start with %PDF-)", field="file")


def verify(
    data: bytes, ledger: Ledger, config: PdfConfig, seller_certificate: bytes | None
) -> Verdict:
    """The signature and ledger checks of a PDF's bytes (``seller_certificate``: DER)."""
    check_file(data)
    signature = check_signature(data, seller_certificate)
    xml = _xml(data)
    ledger_check = check_ledger(data, ledger, config, xml)
    return Verdict(signature, ledger_check, factur_x=xml is not None)


def check_signature(data: bytes, seller_certificate: bytes | None) -> SignatureCheck:
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        signatures = reader.embedded_signatures
    except (PdfError, ValueError, KeyError, IndexError) as error:
        return SignatureCheck("broken", problem=f"the PDF cannot be read: {error}")
    if not signatures:
        return SignatureCheck("unsigned")
    roots = [asn1_x509.Certificate.load(seller_certificate)] if seller_certificate else []
    try:
        status = validate_pdf_signature(
            signatures[0], ValidationContext(trust_roots=roots, allow_fetching=False)
        )
    except (PdfError, ValueError, KeyError) as error:
        return SignatureCheck("broken", problem=f"the signature cannot be checked: {error}")
    cert = status.signing_cert
    fingerprint = hashlib.sha256(cert.dump()).hexdigest()
    seller = None
    if seller_certificate is not None:
        seller = fingerprint == hashlib.sha256(seller_certificate).hexdigest()
    intact = status.intact and status.valid and status.coverage is not None
    return SignatureCheck(
        "intact" if intact else "broken",
        signer=cert.subject.human_friendly,
        fingerprint=fingerprint,
        seller_certificate=seller,
        signed_at=status.signer_reported_dt,
        problem="" if intact else "the signed bytes were changed after signing",
    )


def _xml(data: bytes) -> bytes | None:
    try:
        return embedded_xml(data)
    except Exception:  # the library raises bare Exceptions on broken files
        return None


def _named(data: bytes, xml: bytes | None) -> tuple[str, str] | None:
    """(kind, number) the file names: the CII BT-1 and type code, else the PDF subject."""
    if xml is not None:
        try:
            root = etree.fromstring(xml, _SAFE_XML)
        except etree.XMLSyntaxError:
            return None
        doc = root.find(_CII_ID)
        if doc is not None:
            number = doc.findtext(f"{{{_RAM}}}ID") or ""
            kind = "credit_note" if doc.findtext(f"{{{_RAM}}}TypeCode") == "381" else "invoice"
            return kind, number
    try:
        metadata = PdfReader(io.BytesIO(data)).metadata
        subject = str(metadata.get("/Subject", "")) if metadata is not None else ""
    except (PdfReadError, ValueError, KeyError):
        return None
    for prefix, kind in (("Credit Note ", "credit_note"), ("Invoice ", "invoice")):
        if subject.startswith(prefix):
            return kind, subject[len(prefix) :]
    return None


def check_ledger(data: bytes, ledger: Ledger, config: PdfConfig, xml: bytes | None) -> LedgerCheck:
    named = _named(data, xml)
    if named is None:
        return LedgerCheck("unknown", problem="the file names no tollbook invoice or credit note")
    kind, number = named
    try:
        renderings = _renderings(ledger, config, kind, number, data, factur_x=xml is not None)
        for moment, make in renderings:
            try:
                expected = make()
            except BillingError:
                continue  # no such document at that moment (a draft has no e-invoice)
            if data == expected or data.startswith(expected):
                status: LedgerStatus = "current" if moment is None else "earlier"
                return LedgerCheck(status, kind, number, as_of=moment)
    except BillingError as error:
        return LedgerCheck("unknown", kind, number, problem=str(error))
    return LedgerCheck(
        "mismatch",
        kind,
        number,
        problem="the content differs from the ledger's document, now and at every earlier state",
    )


Rendering = tuple[datetime | None, Callable[[], bytes]]


def _renderings(
    ledger: Ledger, config: PdfConfig, kind: str, number: str, data: bytes, *, factur_x: bool
) -> Iterator[Rendering]:
    """The document now, then (an invoice) as it stood after each of its events."""
    if kind == "credit_note":
        note = ledger.credit_note(number)
        if factur_x:
            yield None, lambda: credit_note_facturx(ledger, note.id, config).pdf
        else:
            yield None, lambda: render(credit_note_source(ledger, note.id), config).pdf
        return
    invoice_id = ledger.invoice_id(number)
    events = ledger.events_of(invoice_id)
    labelled = _labelled_moment(data)
    if labelled is not None:
        # the state then, with its "As it stood at" line; the current one if nothing came after
        status: datetime | None = labelled if any(e.timestamp > labelled for e in events) else None
        yield status, _maker(ledger, config, invoice_id, labelled, factur_x, label=True)
    moments: list[datetime | None] = [None]
    moments += sorted({e.timestamp for e in events}, reverse=True)
    for moment in moments:
        yield moment, _maker(ledger, config, invoice_id, moment, factur_x)


def _labelled_moment(data: bytes) -> datetime | None:
    """The moment an auditor view says it shows ("As it stood at …" on page 1), if any. The
    line has whole seconds: a view asked for at a fraction of a second is rendered again at
    the whole second (the same state unless an event fell within that second)."""
    try:
        text = PdfReader(io.BytesIO(data)).pages[0].extract_text()
    except (PdfReadError, ValueError, KeyError, IndexError):
        return None
    found = _AS_OF.search(text or "")
    if found is None:
        return None
    return datetime.strptime(found[1], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)


def _maker(
    ledger: Ledger,
    config: PdfConfig,
    invoice_id: object,
    at: datetime | None,
    factur_x: bool,
    *,
    label: bool = False,
) -> Callable[[], bytes]:
    ref = str(invoice_id)
    if factur_x:
        return lambda: invoice_facturx(ledger, ref, config, at=at, label_moment=label).pdf
    return lambda: render(invoice_source(ledger, ref, at=at, label_moment=label), config).pdf
