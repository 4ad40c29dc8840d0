"""Drawing a laid-out document with fpdf2, and the two public entry points.

Output is deterministic: the creation date is the document's own date (not the clock), the
file identifier is fpdf2's hash of the content, fonts are subset deterministically, and nothing
else varies, so an unchanged invoice always renders to the same bytes and its SHA-256 can be
recorded and checked later.
"""

from __future__ import annotations

from dataclasses import dataclass

from fpdf import FPDF
from fpdf.enums import OutputIntentSubType
from fpdf.output import PDFICCProfile

from adapters.pdf.config import PdfConfig
from adapters.pdf.content import Document
from adapters.pdf.fonts import Metrics, install
from adapters.pdf.geometry import Block, Layout
from adapters.pdf.layout import lay_out

INK = (20, 20, 20)
GREY = (110, 110, 110)
RULE = (200, 200, 200)
HEADER_FILL = (236, 236, 236)
MARK = {"DRAFT": (200, 200, 200), "VOID": (235, 170, 170)}


@dataclass(frozen=True, slots=True)
class Rendered:
    pdf: bytes
    layout: Layout

    @property
    def page_count(self) -> int:
        return len(self.layout.pages)


def render(
    document: Document,
    config: PdfConfig | None = None,
    *,
    shared_fonts: bool = True,
    output_intent: bytes | None = None,
) -> Rendered:
    """The PDF of ``document`` and the layout it was drawn from.

    ``shared_fonts``: use the fonts parsed once per process (the default; same bytes, see
    ``adapters.pdf.fonts.add_font``); False parses the font files again for this document.
    ``output_intent``: an RGB ICC profile to declare as the PDF/A output intent (a Factur-X
    e-invoice is a PDF/A-3: adapters/einvoice/pdfa3.py); plain PDFs have none.
    """
    config = config or PdfConfig()
    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_auto_page_break(False)  # the layout decides where pages break
    pdf.c_margin = 0  # paddings are part of the layout's boxes
    pdf.set_compression(True)
    metrics = install(pdf, config.fonts, document.texts(), shared=shared_fonts)
    layout = lay_out(document, metrics, config.logo)

    pdf.set_title(document.title)
    pdf.set_author(document.author)
    pdf.set_subject(f"{document.heading.title()} {document.reference}")
    pdf.set_creator("tollbook")
    pdf.set_lang("en")
    pdf.set_creation_date(document.created)
    if output_intent is not None:
        pdf.add_output_intent(
            OutputIntentSubType.PDFA,
            output_condition_identifier="sRGB",
            output_condition="sRGB IEC61966-2.1",
            registry_name="http://www.color.org",
            dest_output_profile=PDFICCProfile(contents=output_intent, n=3, alternate="DeviceRGB"),
            info="sRGB IEC61966-2.1",
        )

    painter = _Painter(pdf, metrics)
    for page in layout.pages:
        pdf.add_page()
        # the mark goes first so that everything else is drawn over it
        for block in sorted(page.blocks, key=lambda b: b.role != "mark"):
            painter.draw(block)
    metrics.before_output()
    return Rendered(bytes(pdf.output()), layout)


class _Painter:
    """Draws blocks, switching font and colour only when they change (fpdf2 does not check)."""

    def __init__(self, pdf: FPDF, metrics: Metrics) -> None:
        self.pdf = pdf
        self.metrics = metrics
        self.font: tuple[str, float] | None = None
        self.colour: tuple[int, int, int] | None = None

    def _font(self, bold: bool, size: float) -> None:
        if self.font != ("B" if bold else "", size):
            self.font = ("B" if bold else "", size)
            self.pdf.set_font("body", self.font[0], size)

    def _colour(self, rgb: tuple[int, int, int]) -> None:
        if self.colour != rgb:
            self.colour = rgb
            self.pdf.set_text_color(*rgb)
            # fpdf2 wraps every cell in its own colour operators while the fill colour differs
            # from the text colour; keeping them equal saves that on every cell
            self.pdf.set_fill_color(*rgb)

    def draw(self, block: Block) -> None:
        pdf = self.pdf
        if block.fills:
            pdf.set_fill_color(*HEADER_FILL)
            for fill in block.fills:
                pdf.rect(fill.x, fill.y, fill.w, fill.h, style="F")
            pdf.set_fill_color(*(self.colour or INK))
        if block.rules:
            pdf.set_draw_color(*RULE)
            pdf.set_line_width(0.15)
            for rule in block.rules:
                pdf.line(rule.x1, rule.y, rule.x2, rule.y)
        if block.image is not None:
            box = block.box
            pdf.image(str(block.image.path), box.x, box.y, box.w, box.h)
        if block.rotation:
            self._mark(block)
            return
        # the hot loop of a long invoice: font and colour are set only when they change, and
        # a plain text (every glyph in the main font) goes through fpdf2's text(), which writes
        # the same "BT x y Td (glyphs) Tj ET" as cell() without cell()'s fragment and line
        # machinery (4-5x cheaper); the cell's alignment and baseline are computed here the way
        # cell() computes them (c_margin is 0). Anything else (fallback glyphs) goes to cell().
        pdf, metrics = self.pdf, self.metrics
        cell, set_xy, text, k = pdf.cell, pdf.set_xy, pdf.text, pdf.k
        plain, units, falls_back = metrics.plain, metrics.units, metrics.falls_back
        for x, y, w, h, content, size, bold, align, grey in block.texts:
            if self.font != ("B" if bold else "", size):
                self._font(bold, size)
            if self.colour != (GREY if grey else INK):
                self._colour(GREY if grey else INK)
            if not content:
                continue  # cell() draws nothing for an empty text without border or fill
            if plain(content, bold):
                dx = w - units(content, bold) * size * 0.001 / k if align == "R" else 0.0
                text(x + dx, y + 0.5 * h + 0.3 * pdf.font_size, content)
                continue
            set_xy(x, y)
            cell(w, h, content, align=align)
            if falls_back(content):
                # fpdf2 2.8 selects the main font inside this cell's text object when its first
                # glyph comes from the fallback, and then counts the font as set on the page;
                # when the cell was wrapped in q/Q (any colour change) that selection is gone.
                # Make it select the main font again for the next cell.
                pdf.current_font_is_set_on_page = False

    def _mark(self, block: Block) -> None:
        pdf, text = self.pdf, block.texts[0]
        centre_x, centre_y = block.box.x + block.box.w / 2, block.box.y + block.box.h / 2
        self._font(True, text.size)
        self._colour(MARK.get(text.text, MARK["DRAFT"]))
        with pdf.rotation(block.rotation, centre_x, centre_y):
            pdf.set_xy(text.x, text.y)
            pdf.cell(text.w, text.h, text.text, align="L")
        self.font = self.colour = None  # the rotation's graphics state has been restored
