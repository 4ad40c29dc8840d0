"""Invoice PDFs laid out and drawn: boxes, pagination, marks, fonts, pixels, determinism."""

from __future__ import annotations

import hashlib
import io
import itertools
import re
from pathlib import Path

import pypdf
import pytest
from fpdf import FPDF
from PIL import Image

from adapters.config import ConfigError
from adapters.pdf.config import PdfConfig, load_logo
from adapters.pdf.document import invoice_document
from adapters.pdf.fonts import FontSet, install
from adapters.pdf.geometry import Box, Layout
from adapters.pdf.layout import MARGIN, PAGE_H, PAGE_W, lay_out
from adapters.pdf.render import render
from domain.address import PostalAddress
from domain.customer import CustomerProfile
from domain.invoice_line import totals_of
from domain.settings import SellerSettings
from tests.pdf_support import (
    STAMP,
    billing,
    draft_invoice,
    issued_invoice,
    page_image,
    page_texts,
    usage_line,
)

LONG = (
    "International termination to premium-rate and shared-cost numbers, routed over the"
    " secondary carrier while the primary route was congested (ticket 48211)"
)


def mixed_lines(count: int):
    return [usage_line(n, LONG if n % 7 == 3 else None) for n in range(count)]


def assert_sound(layout: Layout) -> None:
    """Within the margins, every text inside its block, and no two blocks overlapping."""
    page_area = Box(MARGIN - 0.01, MARGIN - 0.01, PAGE_W - 2 * MARGIN + 0.02, PAGE_H - MARGIN)
    for page in layout.pages:
        blocks = [b for b in page.blocks if b.role != "mark"]
        for block in blocks:
            assert page_area.contains(block.box), (page.number, block.role, block.box)
            for text in block.texts:
                assert block.box.contains(text.box), (page.number, block.role, text)
        for first, second in itertools.combinations(blocks, 2):
            assert not first.box.overlaps(second.box), (page.number, first.role, second.role)


def test_a_one_page_invoice_has_every_block_once_inside_the_margins_without_overlaps():
    rendered = render(invoice_document(issued_invoice(mixed_lines(12))))

    assert rendered.page_count == 1
    page = rendered.layout.pages[0]
    assert sorted(page.roles()) == sorted(
        [
            "title",
            "seller",
            "customer",
            "facts",
            "table-header",
            "rows",
            "totals",
            "notes",
            "footer",
        ]
    )
    assert_sound(rendered.layout)


def test_long_descriptions_wrap_inside_their_column_and_the_row_grows():
    rendered = render(invoice_document(issued_invoice(mixed_lines(5))))
    rows = rendered.layout.pages[0].block("rows")
    long_row = [t for t in rows.texts if t.text and LONG.startswith(t.text)]
    wrapped = [t for t in rows.texts if t.x == long_row[0].x and t.text in LONG]

    assert len(wrapped) >= 3
    assert " ".join(t.text for t in wrapped) == LONG
    assert all(t.w < 64 for t in wrapped)
    assert_sound(rendered.layout)


@pytest.fixture(scope="module")
def long_invoice():
    lines = [usage_line(n) for n in range(5000)]
    invoice = issued_invoice(lines)
    rendered = render(invoice_document(invoice))
    return invoice, rendered, page_texts(rendered.pdf)


def test_a_5000_line_invoice_repeats_the_header_on_every_page_and_totals_only_on_the_last(
    long_invoice,
):
    _, rendered, texts = long_invoice
    pages = rendered.layout.pages
    count = len(pages)

    assert count == len(texts) > 50
    # page 1 is the summary; the lines follow from page 2
    assert "table-header" not in pages[0].roles() and "Description" not in texts[0]
    for number, (page, text) in enumerate(zip(pages, texts, strict=True), start=1):
        assert f"Page {number} of {count}" in text
        if number == 1:
            continue
        assert "table-header" in page.roles() and "rows" in page.roles()
        assert "Description" in text and "Net (EUR)" in text
        is_last = number == count
        assert ("totals" in page.roles()) == is_last
        assert ("Amount due (EUR)" in text) == is_last
    assert "INVOICE" in texts[0] and "(continued)" in texts[1]
    assert_sound(rendered.layout)


def test_every_line_of_a_5000_line_invoice_is_printed_exactly_once_in_order(long_invoice):
    invoice, _, texts = long_invoice
    printed = re.findall(r"Calls to destination (\d{5})", "\n".join(texts))

    assert printed == [f"{n:05d}" for n in range(5000)]
    total = totals_of(invoice.lines.values(), "EUR").total
    assert f"Total (EUR) {total:,.2f}" in texts[-1]


def test_the_totals_are_never_left_alone_on_a_page():
    pdf = FPDF()
    metrics = install(pdf, FontSet(), ["Zürich"])
    for count in range(20, 90):  # crosses the end of page 1 and of page 2 at every offset
        layout = lay_out(invoice_document(issued_invoice(mixed_lines(count))), metrics)
        last = layout.pages[-1]
        assert "rows" in last.roles() and "totals" in last.roles(), count
        assert_sound(layout)


def test_an_issued_invoice_renders_to_the_same_bytes_every_time():
    first = render(invoice_document(issued_invoice(mixed_lines(30)))).pdf
    second = render(invoice_document(issued_invoice(mixed_lines(30)))).pdf

    assert hashlib.sha256(first).hexdigest() == hashlib.sha256(second).hexdigest()


def test_metadata_names_the_document_its_author_and_the_issue_date():
    rendered = render(invoice_document(issued_invoice(mixed_lines(3))))
    meta = pypdf.PdfReader(io.BytesIO(rendered.pdf)).metadata

    assert meta.title == "Invoice INV-2026-000042 for Zürich Telekom AG"
    assert meta.author == "Northwind Voice Ltd"
    assert meta.creation_date.isoformat() == "2026-11-01T00:00:00+00:00"


@pytest.mark.parametrize(
    "name",
    ["Zürich Telekom AG", "Łódź Sp. z o.o.", "東京テレコム株式会社", "Ελληνική Τηλεπικοινωνία"],
)
def test_unicode_names_round_trip_through_text_extraction(name):
    lines = [usage_line(1, f"{name}: interconnect"), usage_line(2)]
    rendered = render(invoice_document(issued_invoice(lines, customer_name=name)))
    text = page_texts(rendered.pdf)[0]
    flowing = " ".join(text.split())  # the description may wrap in its column

    assert f"Bill to\n{name}\n" in text
    assert f"{name}: interconnect" in flowing
    assert "1–31 Oct 2026 101 min 0.0125 20% 1.26" in flowing  # the cells after it
    assert pypdf.PdfReader(io.BytesIO(rendered.pdf)).metadata.title.endswith(name)
    assert_sound(rendered.layout)


def test_a_draft_and_a_void_invoice_carry_their_mark_on_every_page():
    draft = draft_invoice(mixed_lines(60))
    profile = CustomerProfile(
        account_number="ZRH01",
        name="Zürich Telekom AG",
        currency="EUR",
        tax_rate="20",
        tax_description="VAT",
        payment_terms_days=30,
    )
    drafted = render(invoice_document(draft, settings=SellerSettings(), profile=profile))
    void = issued_invoice(mixed_lines(3))
    void.void(STAMP)
    voided = render(invoice_document(void))

    assert drafted.page_count > 1
    for page, text in zip(drafted.layout.pages, page_texts(drafted.pdf), strict=True):
        assert page.block("mark").texts[0].text == "DRAFT"
        assert "DRAFT" in text
    assert "Draft, not yet numbered" in page_texts(drafted.pdf)[0]
    assert voided.layout.pages[0].block("mark").texts[0].text == "VOID"
    void_text = page_texts(voided.pdf)[0]
    assert "VOID" in void_text and "void and not payable: test" in void_text
    assert "Amount due (EUR) 0.00" in void_text
    issued = render(invoice_document(issued_invoice(mixed_lines(3))))
    assert "mark" not in issued.layout.pages[0].roles()


def _ink_outside_boxes(image: Image.Image, boxes: list[Box], dpi: int) -> int:
    scale = dpi / 25.4
    tolerance = 2  # pixels: anti-aliasing and glyph overshoot
    mask = Image.new("L", image.size, 0)
    for box in boxes:
        x0, y0 = int(box.x * scale) - tolerance, int(box.y * scale) - tolerance
        x1, y1 = int(box.right * scale) + tolerance, int(box.bottom * scale) + tolerance
        mask.paste(255, (max(x0, 0), max(y0, 0), x1, y1))
    ink = image.point(lambda v: 255 if v < 200 else 0)
    stray = Image.composite(Image.new("L", image.size, 0), ink, mask)
    return stray.histogram()[255]


def _ink_inside(image: Image.Image, box: Box, dpi: int) -> int:
    scale = dpi / 25.4
    crop = image.crop(
        (int(box.x * scale), int(box.y * scale), int(box.right * scale), int(box.bottom * scale))
    )
    return sum(crop.histogram()[:200])


def test_page_one_as_pixels_is_not_blank_and_all_ink_lies_in_the_layout_boxes(tmp_path: Path):
    logo_path = tmp_path / "logo.png"
    Image.new("RGB", (300, 100), (30, 60, 160)).save(logo_path)
    config = PdfConfig(logo=load_logo(logo_path))
    rendered = render(invoice_document(issued_invoice(mixed_lines(12))), config)
    dpi = 60
    image = page_image(rendered.pdf, tmp_path, dpi)
    page = rendered.layout.pages[0]

    assert image.size[0] == pytest.approx(210 / 25.4 * dpi, abs=1)  # an A4 page
    assert image.size[1] == pytest.approx(297 / 25.4 * dpi, abs=1)
    assert sum(image.histogram()[:200]) > 2000  # not blank
    assert _ink_outside_boxes(image, [b.box for b in page.blocks], dpi) == 0
    for block in page.blocks:
        assert _ink_inside(image, block.box, dpi) > 0, block.role
    assert page.block("logo").box.w == pytest.approx(60.0)
    assert_sound(rendered.layout)


def test_fonts_and_logo_come_from_configuration_and_missing_files_are_named(tmp_path: Path):
    with pytest.raises(ConfigError, match=r"nowhere\.ttf"):
        PdfConfig.from_env({"TOLLBOOK_PDF_FONT": str(tmp_path / "nowhere.ttf")})
    with pytest.raises(ConfigError, match="does not exist"):
        PdfConfig.from_env({"TOLLBOOK_PDF_LOGO": str(tmp_path / "logo.png")})
    (tmp_path / "logo.png").write_text("not an image")
    with pytest.raises(ConfigError, match="not an image"):
        PdfConfig.from_env({"TOLLBOOK_PDF_LOGO": str(tmp_path / "logo.png")})
    assert PdfConfig.from_env({}).logo is None


def test_text_after_a_cjk_glyph_is_drawn_in_the_main_font_again(tmp_path: Path):
    """fpdf2 2.8 can lose track of the font after a cell that starts with a fallback glyph.

    The next cell is then drawn with whatever font the page had before (garbled glyphs). The
    pixels of the line after a CJK cell must equal those of the same line after a Latin cell.
    """

    def second_line_pixels(first_line: str) -> tuple[Image.Image, Box]:
        lines = [usage_line(1, f"{first_line}\nTokyo international"), usage_line(2)]
        rendered = render(invoice_document(issued_invoice(lines, customer_name="Tokyo KK")))
        rows = rendered.layout.pages[0].block("rows")
        box = next(t.box for t in rows.texts if t.text == "Tokyo international")
        return page_image(rendered.pdf, tmp_path, 150), box

    with_cjk, box = second_line_pixels("東京 calls")
    without, same_box = second_line_pixels("Osaka calls")
    scale = 150 / 25.4
    area = (int(box.x * scale), int(box.y * scale), int(box.right * scale), int(box.bottom * scale))

    assert box == same_box
    assert with_cjk.crop(area).tobytes() == without.crop(area).tobytes()


def test_a_structured_address_prints_every_part_on_its_own_line_in_the_bill_to_block():
    address = PostalAddress(
        lines=("ul. Piotrkowska 1", "Budynek C, piętro 2", "東京都千代田区丸の内1-1", "Box 7"),
        city="Łódź",
        region="Województwo łódzkie",
        postal_code="90-001",
        country="PL",
    )
    invoice = draft_invoice([usage_line(1)])
    snapshot = billing().model_copy(update={"address": address})
    invoice.issue("INV-2026-000043", invoice.invoice_date, snapshot, STAMP)

    rendered = render(invoice_document(invoice))

    printed = [t.text for t in rendered.layout.pages[0].block("customer").texts]
    assert printed[2:10] == [*address.lines, "Łódź", "Województwo łódzkie", "90-001", "Poland"]
    assert "Bahnhofstrasse 1" not in printed  # the structured address replaces the free text
    text = page_texts(rendered.pdf)[0]
    assert "Budynek C, piętro 2\n東京都千代田区丸の内1-1\nBox 7\nŁódź\n" in text
    assert_sound(rendered.layout)


def test_a_free_text_address_of_many_long_lines_prints_in_full_and_wraps_in_its_block():
    long_line = "Industriestrasse 1, Gebäude 4, Eingang Süd, Anlieferung über Tor 7 " * 2
    free_text = "\n".join(
        [long_line.strip(), "Line 2", "Line 3", "Line 4", "Line 5", "8001 Zürich"]
    )
    invoice = draft_invoice([usage_line(1)])
    invoice.issue(
        "INV-2026-000044",
        invoice.invoice_date,
        billing().model_copy(update={"billing_address": free_text}),
        STAMP,
    )

    rendered = render(invoice_document(invoice))

    block = rendered.layout.pages[0].block("customer")
    printed = " ".join(t.text for t in block.texts)
    for part in free_text.splitlines():
        assert part in printed
    assert_sound(rendered.layout)
