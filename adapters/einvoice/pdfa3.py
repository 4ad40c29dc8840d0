"""A Factur-X PDF: our PDF (with an sRGB output intent) and the CII XML embedded as
``factur-x.xml``, by the ``factur-x`` library, then pinned so the bytes are reproducible.

The library stamps the clock into three places: the Info dictionary's CreationDate/ModDate,
the XMP packet's xmp:CreateDate/ModifyDate and the embedded file's /Params /ModDate. ``pin``
rewrites each to the document's own date (midnight UTC of its issue date, the date the plain
PDF already carries), so an unchanged document gives the same bytes on every run. It also
drops the Info /Keywords the library adds without an XMP counterpart (PDF/A wants the two to
agree) and declares PDF 1.7, the base of PDF/A-3.
"""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from functools import cache
from typing import Any

import facturx
from PIL import ImageCms
from pypdf import PdfReader, PdfWriter
from pypdf.generic import DecodedStreamObject, NameObject, TextStringObject

from adapters.einvoice.cii import LEVEL

XML_NAME = "factur-x.xml"
_XMP_DATES = re.compile(rb"<xmp:(CreateDate|ModifyDate)>[^<]*</xmp:\1>")


@cache
def srgb_profile() -> bytes:
    """An sRGB ICC profile made by LittleCMS (through Pillow), its creation date fixed (the
    only byte that differs between runs): the output intent PDF/A requires."""
    profile = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    profile[24:36] = bytes([0x07, 0xD0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0])  # 2000-01-01 00:00:00
    return bytes(profile)


def embed(
    pdf: bytes, xml: bytes, *, created: datetime, title: str, subject: str, author: str
) -> bytes:
    """``pdf`` (rendered with the sRGB output intent) as a Factur-X EN 16931 PDF/A-3."""
    made: bytes = facturx.generate_from_binary(
        pdf,
        xml,
        flavor="factur-x",
        level=LEVEL,
        check_xsd=False,  # cii_xml checked it
        pdf_metadata={"author": author, "keywords": "", "title": title, "subject": subject},
        lang="en",
        xmp_compression=False,  # plain text: pinned below, and friendlier to a later signature
    )
    return pin(made, created)


def _pdf_date(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("D:%Y%m%d%H%M%S+00'00'")


def pin(pdf: bytes, created: datetime) -> bytes:
    """The same PDF with every clock-stamped date set to ``created`` (see the module doc)."""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    stamp = TextStringObject(_pdf_date(created))
    info = {key: value for key, value in (writer.metadata or {}).items() if key != "/Keywords"}
    writer.metadata = {**info, "/CreationDate": stamp, "/ModDate": stamp}
    root = writer.root_object
    metadata = root["/Metadata"].get_object()
    assert isinstance(metadata, DecodedStreamObject)
    iso = created.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00").encode()
    metadata.set_data(
        _XMP_DATES.sub(lambda m: b"<xmp:%s>%s</xmp:%s>" % (m[1], iso, m[1]), metadata.get_data())
    )
    names: Any = root["/Names"]
    for spec in names["/EmbeddedFiles"]["/Names"][1::2]:
        params = spec.get_object()["/EF"]["/F"].get_object()["/Params"]
        params[NameObject("/ModDate")] = stamp
    writer.pdf_header = "%PDF-1.7"
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def embedded_xml(pdf: bytes) -> bytes | None:
    """The Factur-X XML a PDF carries, or None."""
    _name, xml = facturx.get_xml_from_pdf(pdf, check_xsd=False)
    return xml or None
