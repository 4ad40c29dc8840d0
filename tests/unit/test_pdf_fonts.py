"""Fonts parsed once per process: every document still gets exactly the bytes that fpdf2's own
``add_font`` (a fresh parse per document) gives, whichever glyphs it uses."""

from __future__ import annotations

from dataclasses import replace

import pytest

from adapters.pdf.config import PdfConfig
from adapters.pdf.document import invoice_document
from adapters.pdf.fonts import FontSet, Metrics, cuts_made, install, take_cuts, warm_up
from adapters.pdf.render import render
from tests.pdf_support import issued_invoice, page_texts, usage_line

NAMES = [
    "Zürich Telekom AG",  # Latin-1: the pre-cut faces
    "Łódź Sp. z o.o. – “Straße” € ‰ …",  # Latin Extended-A and punctuation: pre-cut too
    "Ελληνική Τηλεπικοινωνία",  # Greek: the whole faces
    "東京テレコム株式会社",  # CJK: the fallback font as well
    "(brackets) \\ back-slash",  # characters PDF strings escape
]


@pytest.mark.parametrize("name", NAMES)
def test_shared_fonts_give_the_bytes_of_a_fresh_parse(name):
    lines = [usage_line(1, f"{name}: interconnect"), usage_line(2, f"{name} " * 12)]
    document = invoice_document(issued_invoice(lines, customer_name=name))

    fresh = render(document, shared_fonts=False).pdf
    shared = [render(document).pdf for _ in range(2)]  # the second reuses the parsed fonts

    assert shared == [fresh, fresh]
    assert name in page_texts(fresh)[0]


def test_a_document_drawn_after_another_is_not_changed_by_it():
    """A document's glyph subset, widths and descriptor are its own, not the process's."""
    greek = invoice_document(issued_invoice([usage_line(1, "Ελληνική")], customer_name="Ελλάς"))
    latin = invoice_document(issued_invoice([usage_line(1)]))

    alone = render(latin, shared_fonts=False).pdf
    render(greek)

    assert render(latin).pdf == alone


def test_plain_text_is_every_glyph_in_the_main_font_and_nothing_fpdf2_treats_specially():
    from fpdf import FPDF

    metrics: Metrics = install(FPDF(), FontSet(), ["東京"])

    assert metrics.plain("Calls to UK mobile 1–31 Oct 2026 · …")
    assert metrics.plain("Łódź Ελληνική")
    assert not metrics.plain("東京")  # drawn by the fallback font
    assert not metrics.plain("soft\u00adhyphen")
    assert metrics.plain("")


@pytest.mark.parametrize(("text", "precut"), [("Zürich – Łódź €", True), ("Ελληνική", False)])
def test_western_text_is_subset_from_the_pre_cut_face_and_other_text_from_the_whole_face(
    text, precut
):
    from fpdf import FPDF

    pdf = FPDF()
    metrics = install(pdf, FontSet(), [text])
    pdf.add_page()
    pdf.set_font("body", "", 10)
    pdf.text(10, 10, text)
    face = pdf.fonts["body"]
    whole = len(face.ttfont.getGlyphOrder())

    metrics.before_output()

    glyphs = len(face.ttfont.getGlyphOrder())
    assert (glyphs < whole / 5) if precut else (glyphs == whole)
    assert bytes(pdf.output()).startswith(b"%PDF")


def test_a_cut_made_elsewhere_is_taken_for_the_same_file_and_gives_the_same_bytes(tmp_path):
    """A batch worker takes the faces' cuts from the process handing it invoices: the PDF is
    the one a fresh parse gives; a cut of other bytes than the file read here is not taken."""
    made = {cut.style: cut for cut in cuts_made(_warm(FontSet()))}
    regular, bold = tmp_path / "regular.ttf", tmp_path / "bold.ttf"  # fonts not cut here yet
    regular.write_bytes(FontSet().regular.read_bytes())
    bold.write_bytes(FontSet().regular.read_bytes())  # the regular face's bytes: a replaced file
    fonts = FontSet(regular=regular, bold=bold)

    take_cuts([replace(made[""], path=regular), replace(made["B"], path=bold, style="B")])

    taken = {cut.style: cut.data for cut in cuts_made(fonts)}
    assert taken == {"": made[""].data}  # the bold cut was of other bytes
    document = invoice_document(issued_invoice([usage_line(1)]))
    config = PdfConfig(fonts=fonts)
    assert render(document, config).pdf == render(document, config, shared_fonts=False).pdf


def _warm(fonts: FontSet) -> FontSet:
    warm_up(fonts)
    return fonts
