"""Where everything goes: A4 portrait pages of named blocks, computed before anything is drawn.

Laying out first and drawing second gives three things: the page count is known, so every
footer can say "Page N of M"; the blocks can be checked for overlaps (the tests do); and the
totals are kept together with at least the last line of the table, never alone on a page.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from adapters.pdf.config import Logo
from adapters.pdf.content import Column, Document, Row, StatementRow
from adapters.pdf.fonts import PT, Metrics
from adapters.pdf.geometry import Align, Block, Box, Layout, Page, Rule, Text

PAGE_W, PAGE_H = 210.0, 297.0
MARGIN = 15.0
CONTENT_W = PAGE_W - 2 * MARGIN
GUTTER = 8.0
HALF_W = (CONTENT_W - GUTTER) / 2
LEFT_X, RIGHT_X = MARGIN, MARGIN + HALF_W + GUTTER
FOOTER_Y = PAGE_H - 12.0
BOTTOM = FOOTER_Y - 4.0  # nothing but the footer below this line
GAP = 7.0  # between header blocks, and before the totals
LOGO_MAX_W, LOGO_MAX_H = 60.0, 20.0

TABLE_SIZE = 8.0
PAD_X, PAD_Y = 1.2, 1.0
MAX_ROW_LINES = 40  # a longer description is cut (with an ellipsis) to keep a row on one page


COLUMNS = (
    Column("Description", 64.0, "L"),
    Column("Period", 28.0, "L"),  # "1–31 Oct 2026" fits; a period across months may wrap
    Column("Quantity", 23.0, "R"),
    Column("Unit price", 22.0, "R"),  # room for 99,999.9999
    Column("Tax", 12.0, "R"),
    Column("Net", 31.0, "R"),
)
assert abs(sum(c.width for c in COLUMNS) - CONTENT_W) < 1e-9


def line_height(size: float) -> float:
    return size * PT * 1.3


#: Text is cut to this many characters before it is wrapped: more than a row's 40 lines or a
#: heading can show, and wrapping a stored megabyte glyph by glyph took minutes.
MAX_WRAP_CHARACTERS = 4_000


def wrap(text: str, width: float, measure: Callable[[str], float]) -> list[str]:
    """Greedy word wrap; words wider than the column (long CJK names) break between glyphs."""
    if len(text) > MAX_WRAP_CHARACTERS:
        text = text[:MAX_WRAP_CHARACTERS] + "…"
    if "\n" not in text and measure(text) <= width:
        return [text]
    lines: list[str] = []
    for paragraph in text.split("\n"):
        current = ""
        for word in paragraph.split(" "):
            candidate = f"{current} {word}" if current else word
            if measure(candidate) <= width:
                current = candidate
                continue
            if current:
                lines.append(current)
            while len(word) > 1 and measure(word) > width:
                cut = _fitting_prefix(word, width, measure)
                lines.append(word[:cut])
                word = word[cut:]
            current = word
        lines.append(current)
    return lines


def _fitting_prefix(word: str, width: float, measure: Callable[[str], float]) -> int:
    cut = 1
    while cut < len(word) and measure(word[: cut + 1]) <= width:
        cut += 1
    return cut


class _Stack:
    """Lines of text stacked downwards in one column, collected into a block."""

    def __init__(self, metrics: Metrics, x: float, y: float, w: float) -> None:
        self.metrics, self.x, self.top, self.y, self.w = metrics, x, y, y, w
        self.texts: list[Text] = []
        self.rules: list[Rule] = []

    def add(self, text: str, size: float, *, bold: bool = False, grey: bool = False) -> None:
        height = line_height(size)
        for piece in wrap(text, self.w, lambda s: self.metrics.width(s, size, bold)):
            self.texts.append(Text(self.x, self.y, self.w, height, piece, size, bold, "L", grey))
            self.y += height

    def pair(self, label: str, value: str, label_w: float, size: float, *, bold: bool) -> None:
        """A label on the left and a value beside it (wrapping), e.g. a fact or a total."""
        height = line_height(size)
        value_w = self.w - label_w
        align: Align = "R" if bold or value_w < self.w / 2 else "L"
        labels = wrap(label, label_w - 2, lambda s: self.metrics.width(s, size, bold))
        values = wrap(value, value_w, lambda s: self.metrics.width(s, size, bold))
        for i, piece in enumerate(labels):
            y = self.y + i * height
            self.texts.append(
                Text(self.x, y, label_w - 2, height, piece, size, bold, "L", not bold)
            )
        for i, piece in enumerate(values):
            y = self.y + i * height
            self.texts.append(Text(self.x + label_w, y, value_w, height, piece, size, bold, align))
        self.y += max(len(labels), len(values)) * height

    def space(self, mm: float) -> None:
        self.y += mm

    def rule(self) -> None:
        self.rules.append(Rule(self.x, self.x + self.w, self.y))

    def block(self, role: str) -> Block:
        return Block(role, Box(self.x, self.top, self.w, self.y - self.top), self.texts, self.rules)


def lay_out(document: Document, metrics: Metrics, logo: Logo | None = None) -> Layout:
    pages = [Page(1)]
    y = _first_page_head(pages[0], document, metrics, logo)
    header = _table_header(document, metrics)
    columns = document.columns or COLUMNS
    rows = [_wrap_row(row, metrics, columns) for row in document.rows]
    totals, notes = _closing(document, metrics)
    closing_h = GAP + max(totals.box.h, notes.box.h)
    table_h = header.box.h + sum(height for height, _ in rows)
    summary = _summary(document, metrics, len(rows), y)
    # a document longer than a page opens with its summary, as a carrier's bill does: the
    # figures a reader pays from first, the lines after (when the summary fits on page 1)
    summarised = y + table_h + closing_h > BOTTOM and summary.box.bottom + closing_h <= BOTTOM

    page = pages[0]
    if summarised:
        page.blocks.append(summary)
        page.blocks.append(_moved(totals, summary.box.bottom + GAP).renamed("summary-totals"))
        page.blocks.append(_moved(notes, summary.box.bottom + GAP).renamed("summary-notes"))
        page = Page(2)
        pages.append(page)
        y = _running_head(page, document, metrics)
    page.blocks.append(_moved(header, y))
    y += header.box.h
    on_page: list[Block] = []

    def finish_rows() -> None:
        if on_page:
            page.blocks.append(_merge_rows(on_page))
            on_page.clear()

    def new_page() -> float:
        nonlocal page
        finish_rows()
        page = Page(len(pages) + 1)
        pages.append(page)
        top = _running_head(page, document, metrics)
        page.blocks.append(_moved(header, top))
        return top + header.box.h

    for index, (height, wrapped) in enumerate(rows):
        last = index == len(rows) - 1
        needed = height + (closing_h if last else 0.0)
        if y + needed > BOTTOM and on_page:
            y = new_page()
        on_page.append(_place_row(wrapped, y, height, columns))
        y += height
    if y + closing_h > BOTTOM:  # only when the notes are very long: they get a page of their own
        finish_rows()
        page = Page(len(pages) + 1)
        pages.append(page)
        y = _running_head(page, document, metrics) - GAP
    finish_rows()
    page.blocks.append(_moved(totals, y + GAP))
    page.blocks.append(_moved(notes, y + GAP))

    for page in pages:
        page.blocks.append(_footer(page.number, len(pages), document, metrics))
        if document.mark:
            page.blocks.append(_mark(document.mark, metrics))
    return Layout(pages)


def _moved(block: Block, y: float) -> Block:
    """The block (laid out at y=0) shifted down to ``y``."""
    dy = y - block.box.y
    box = block.box
    return Block(
        block.role,
        Box(box.x, box.y + dy, box.w, box.h),
        [
            Text(t.x, t.y + dy, t.w, t.h, t.text, t.size, t.bold, t.align, t.grey)
            for t in block.texts
        ],
        [Rule(r.x1, r.x2, r.y + dy) for r in block.rules],
        [Box(f.x, f.y + dy, f.w, f.h) for f in block.fills],
        block.image,
        block.rotation,
    )


# ------------------------------------------------------------------ page 1 and running heads


def _first_page_head(page: Page, document: Document, metrics: Metrics, logo: Logo | None) -> float:
    left_y = MARGIN
    if logo is not None:
        scale = min(LOGO_MAX_W / logo.width_px, LOGO_MAX_H / logo.height_px)
        box = Box(LEFT_X, MARGIN, logo.width_px * scale, logo.height_px * scale)
        page.blocks.append(Block("logo", box, image=logo))
        left_y = box.bottom + 4.0

    title = _Stack(metrics, LEFT_X, left_y, HALF_W)
    title.add(document.heading, 18, bold=True)
    title.space(1.0)
    title.add(document.reference, 10, bold=True)
    page.blocks.append(title.block("title"))

    seller = _Stack(metrics, RIGHT_X, MARGIN, HALF_W)
    seller.add(document.seller.name, 10.5, bold=True)
    for line in document.seller.address:
        seller.add(line, 8.5)
    if document.seller.tax_number:
        seller.add(f"VAT/Tax reg. no. {document.seller.tax_number}", 8.5)
    for line in document.seller.details:
        seller.add(line, 8.5)
    page.blocks.append(seller.block("seller"))

    y = max(title.y, seller.y) + GAP
    customer = _Stack(metrics, LEFT_X, y, HALF_W)
    customer.add(document.customer.label, 7.5, grey=True)
    customer.add(document.customer.name, 10, bold=True)
    for line in document.customer.address:
        customer.add(line, 8.5)
    if document.customer.tax_number:
        customer.add(f"Tax no. {document.customer.tax_number}", 8.5)
    page.blocks.append(customer.block("customer"))

    facts = _Stack(metrics, RIGHT_X, y, HALF_W)
    for label, value in document.facts:
        facts.pair(label, value, 34.0, 8.5, bold=False)
    page.blocks.append(facts.block("facts"))
    return max(customer.y, facts.y) + GAP


def _summary(document: Document, metrics: Metrics, lines: int, y: float) -> Block:
    """The summary's heading on page 1 of a long document: what is due, by when, and where
    the lines are."""
    stack = _Stack(metrics, LEFT_X, y, CONTENT_W)
    stack.add("Summary", 11, bold=True)
    stack.space(0.8)
    if document.asks:
        stack.add(document.asks, 9, bold=True)
    plural = "line" if lines == 1 else "lines"
    stack.add(f"{lines:,} {plural} in detail from page 2.", 8.5, grey=True)
    stack.space(1.0)
    stack.rule()
    return stack.block("summary")


def _running_head(page: Page, document: Document, metrics: Metrics) -> float:
    head = _Stack(metrics, LEFT_X, MARGIN, CONTENT_W)
    text = f"{document.heading.title()} {document.reference} · {document.customer.name}"
    head.add(_fit(f"{text} (continued)", CONTENT_W, metrics, 9, True), 9, bold=True)
    page.blocks.append(head.block("running-head"))
    return head.y + 4.0


def _fit(text: str, width: float, metrics: Metrics, size: float, bold: bool = False) -> str:
    """Cut a one-line text to ``width`` with an ellipsis."""
    if metrics.width(text, size, bold) <= width:
        return text
    text = text[:MAX_WRAP_CHARACTERS]  # one line shows far fewer: cut from a bounded text
    while text and metrics.width(text + "…", size, bold) > width:
        text = text[:-1]
    return text + "…"


# ------------------------------------------------------------------ the table


def _column_x(columns: Sequence[Column]) -> list[float]:
    xs, x = [], LEFT_X
    for column in columns:
        xs.append(x)
        x += column.width
    return xs


def _table_header(document: Document, metrics: Metrics) -> Block:
    height = line_height(TABLE_SIZE) + 2 * PAD_Y
    columns = document.columns or COLUMNS
    titles = [c.title for c in columns[:-1]] + [f"{columns[-1].title} ({document.currency})"]
    texts = [
        Text(
            x + PAD_X,
            PAD_Y,
            c.width - 2 * PAD_X,
            line_height(TABLE_SIZE),
            title,
            TABLE_SIZE,
            True,
            c.align,
        )
        for x, c, title in zip(_column_x(columns), columns, titles, strict=True)
    ]
    box = Box(LEFT_X, 0.0, CONTENT_W, height)
    return Block("table-header", box, texts, [Rule(LEFT_X, box.right, height)], [box])


def _wrap_row(
    row: Row | StatementRow, metrics: Metrics, columns: Sequence[Column]
) -> tuple[float, list[list[str]]]:
    """The row's cells wrapped to their columns, and the row's height."""
    size = TABLE_SIZE
    wrapped = []
    for column, text in zip(columns, row.cells(), strict=True):
        lines = wrap(text, column.width - 2 * PAD_X, lambda s: metrics.width(s, size))
        if len(lines) > MAX_ROW_LINES:
            lines = [*lines[: MAX_ROW_LINES - 1], lines[MAX_ROW_LINES - 1] + "…"]
        wrapped.append(lines)
    return max(map(len, wrapped)) * line_height(size) + 2 * PAD_Y, wrapped


def _place_row(
    wrapped: list[list[str]], y: float, height: float, columns: Sequence[Column]
) -> Block:
    lh = line_height(TABLE_SIZE)
    texts = [
        Text(
            x + PAD_X,
            y + PAD_Y + i * lh,
            column.width - 2 * PAD_X,
            lh,
            line,
            TABLE_SIZE,
            False,
            column.align,
        )
        for x, column, lines in zip(_column_x(columns), columns, wrapped, strict=True)
        for i, line in enumerate(lines)
    ]
    box = Box(LEFT_X, y, CONTENT_W, height)
    return Block("row", box, texts, [Rule(LEFT_X, box.right, box.bottom)])


def _merge_rows(rows: Sequence[Block]) -> Block:
    """One "rows" block per page: the table body between its header and the page end."""
    top, bottom = rows[0].box.y, rows[-1].box.bottom
    return Block(
        "rows",
        Box(LEFT_X, top, CONTENT_W, bottom - top),
        [text for row in rows for text in row.texts],
        [rule for row in rows for rule in row.rules],
    )


# ------------------------------------------------------------------ totals, notes, footer, mark


def _closing(document: Document, metrics: Metrics) -> tuple[Block, Block]:
    totals = _Stack(metrics, RIGHT_X, 0.0, HALF_W)
    for figure in document.figures:
        if figure.strong:
            totals.space(1.0)
            totals.rule()
            totals.space(1.0)
        totals.pair(figure.label, figure.amount, HALF_W - 32.0, 9, bold=figure.strong)
        totals.space(0.6)
    notes = _Stack(metrics, LEFT_X, 0.0, HALF_W)
    for index, (heading, text) in enumerate(document.notes):
        if index:
            notes.space(2.5)
        notes.add(heading, 8, bold=True)
        notes.add(text, 8.5)
    return totals.block("totals"), notes.block("notes")


def _footer(number: int, count: int, document: Document, metrics: Metrics) -> Block:
    size, height = 7.5, line_height(7.5)
    page_text = f"Page {number} of {count}"
    page_w = metrics.width(page_text, size) + 0.5
    left = f"{document.seller.name} · {document.heading.title()} {document.reference}"
    left_w = CONTENT_W - page_w - 4.0
    texts = [
        Text(LEFT_X, FOOTER_Y, left_w, height, _fit(left, left_w, metrics, size), size, grey=True),
        Text(
            LEFT_X + CONTENT_W - page_w,
            FOOTER_Y,
            page_w,
            height,
            page_text,
            size,
            align="R",
            grey=True,
        ),
    ]
    return Block("footer", Box(LEFT_X, FOOTER_Y, CONTENT_W, height), texts)


def _mark(mark: str, metrics: Metrics) -> Block:
    """DRAFT or VOID, large and pale, at 45 degrees across the middle of the page."""
    size = 96.0
    width, height = metrics.width(mark, size, True), line_height(size)
    x, y = (PAGE_W - width) / 2, (PAGE_H - height) / 2
    text = Text(x, y, width, height, mark, size, True, "L")
    # the block's box is the rotated text's bounding box
    span = (width + height) * math.cos(math.radians(45))
    box = Box((PAGE_W - span) / 2, (PAGE_H - span) / 2, span, span)
    return Block("mark", box, [text], rotation=45.0)
