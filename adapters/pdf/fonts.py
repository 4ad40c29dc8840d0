"""The fonts a document embeds, and the text metrics the layout measures with.

Core PDF fonts are Latin-1 only, so every document embeds TrueType fonts (subset to the glyphs
used): DejaVu Sans for Latin, Greek and Cyrillic text, and, only when the text needs it, Droid
Sans Fallback for Chinese, Japanese and Korean glyphs (DejaVu has none). fpdf2 switches to the
fallback per glyph; the layout measures each glyph in the font that will draw it, so wrapped
lines and right-aligned numbers land where the layout says.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import os
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from io import BytesIO
from pathlib import Path
from typing import Protocol

from fontTools import subset as ftsubset  # type: ignore[import-untyped]
from fontTools.ttLib import TTFont  # type: ignore[import-untyped]
from fpdf import FPDF
from fpdf.fonts import SubsetMap, TTFFont

from adapters.config_error import ConfigError

DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
DEFAULT_REGULAR = DEJAVU / "DejaVuSans.ttf"
DEFAULT_BOLD = DEJAVU / "DejaVuSans-Bold.ttf"
DEFAULT_FALLBACKS = (Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"),)

PT = 25.4 / 72  # millimetres per typographic point

REGULAR, BOLD = "body", "bodyB"
_SPECIAL = frozenset("\u00ad\n\r")  # soft hyphen and line breaks: fpdf2's cell() treats them


@dataclass(frozen=True, slots=True)
class FontSet:
    """Paths of the regular and bold text fonts and the per-glyph fallbacks, in order."""

    regular: Path = DEFAULT_REGULAR
    bold: Path = DEFAULT_BOLD
    fallbacks: tuple[Path, ...] = DEFAULT_FALLBACKS

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> FontSet:
        """``TOLLBOOK_PDF_FONT``, ``TOLLBOOK_PDF_FONT_BOLD``, ``TOLLBOOK_PDF_FALLBACK_FONTS``."""
        env = os.environ if environ is None else environ
        fallbacks = env.get("TOLLBOOK_PDF_FALLBACK_FONTS")
        fonts = cls(
            regular=Path(env.get("TOLLBOOK_PDF_FONT") or DEFAULT_REGULAR),
            bold=Path(env.get("TOLLBOOK_PDF_FONT_BOLD") or DEFAULT_BOLD),
            fallbacks=(
                tuple(Path(p) for p in fallbacks.split(os.pathsep) if p)
                if fallbacks is not None
                else DEFAULT_FALLBACKS
            ),
        )
        for path in (fonts.regular, fonts.bold, *fonts.fallbacks):
            if not path.is_file():
                raise ConfigError(
                    f"PDF font {path} not found: run `make system-deps` (Debian packages"
                    " fonts-dejavu-core and fonts-droid-fallback) or set TOLLBOOK_PDF_FONT,"
                    " TOLLBOOK_PDF_FONT_BOLD and TOLLBOOK_PDF_FALLBACK_FONTS"
                )
        return fonts


@lru_cache(maxsize=16)
def coverage(path: Path) -> frozenset[int]:
    """The code points a font has glyphs for (read once per process)."""
    with TTFont(path, lazy=True) as font:
        return frozenset(font.getBestCmap() or {})


class _Font(Protocol):
    cw: Mapping[int, float]
    cmap: Mapping[int, str]


class Metrics:
    """String widths in millimetres, as fpdf2 will lay the glyphs out (no kerning, no shaping)."""

    def __init__(
        self,
        regular: _Font,
        bold: _Font,
        fallbacks: list[_Font],
        shared: Sequence[SharedFont] = (),
    ) -> None:
        self._fonts = {False: regular, True: bold}
        self._fallbacks = fallbacks
        self._shared = shared
        self._units: dict[tuple[str, bool], float] = {}

    def before_output(self) -> None:
        """Call once everything is drawn, before ``pdf.output()`` (see ``SharedFont.cut``)."""
        for font in self._shared:
            font.cut()

    def width(self, text: str, size: float, bold: bool = False) -> float:
        return self.units(text, bold) * size * PT / 1000

    def units(self, text: str, bold: bool = False) -> float:
        """Width in thousandths of an em; remembered, as periods and rates repeat on every line."""
        key = (text, bold)
        cached = self._units.get(key)
        if cached is not None:
            return cached
        font = self._fonts[bold]
        if text.isascii():  # the common case: every glyph is in the main font
            units = float(sum(map(font.cw.__getitem__, map(ord, text))))
        else:
            units = float(sum(self._glyph_width(font, ord(char)) for char in text))
        if len(self._units) < 100_000:
            self._units[key] = units
        return units

    def plain(self, text: str, bold: bool = False) -> bool:
        """Whether ``text`` is one run of glyphs of the main font that fpdf2 draws as is: every
        character has a glyph in it (no fallback font, nothing missing) and none has a meaning
        of its own to fpdf2's line breaking (soft hyphen, line breaks)."""
        cmap = self._fonts[bold].cmap
        return all(map(cmap.__contains__, map(ord, text))) and not _SPECIAL.intersection(text)

    def falls_back(self, text: str) -> bool:
        """Whether drawing ``text`` switches to a fallback font for some glyph."""
        if text.isascii() or not self._fallbacks:
            return False
        cmap = self._fonts[False].cmap
        return any(ord(char) not in cmap for char in text)

    def _glyph_width(self, font: _Font, code: int) -> float:
        if code in font.cmap:
            return font.cw[code]
        for fallback in self._fallbacks:
            if code in fallback.cmap:
                return fallback.cw[code]
        return font.cw[code]  # drawn as .notdef by the main font


# ------------------------------------------------------------------ parsed once per process
#
# ``FPDF.add_font`` parses the TrueType file on every call: the cmap, every glyph's advance
# width and the font descriptor (~0.1 s for each DejaVu face, ~0.2 s for the CJK fallback),
# which is most of the cost of a one-page invoice. fpdf2 2.8 has no public way to share a
# parsed font between documents, so we parse each file once per process and give every
# document its own copy of the parts that a document changes:
#
# - ``ttfont`` (fontTools): fpdf2 subsets it *in place* when it writes the PDF, then closes
#   it; each document gets a fresh lazy ``TTFont`` over the file's bytes, read once;
# - ``subset`` (which glyphs this document uses), ``missing_glyphs``, ``biggest_size_pt``;
# - ``desc`` (the font descriptor: fpdf2 sets its name, object id and font file on output);
# - ``cw`` (a defaultdict that grows on lookups) and ``glyph_ids``.
#
# Everything else (names, metrics, ``cmap``) is read-only after parsing and shared. The copy is
# what ``TTFFont.__init__`` would have built from the same file, so the PDF bytes are the same
# (tests/unit/test_pdf_fonts.py checks it against ``add_font``). Fonts that fpdf2 alters while
# parsing them (no ``.notdef`` glyph, colour fonts) or treats apart (CID-keyed CFF, WOFF) are
# parsed per document as before. A font file is read once per process: replacing the file
# takes effect when the process restarts.


class _Parsed:
    """A font file parsed once, and (on first use) cut down to the _COMMON glyphs."""

    def __init__(self, font: TTFFont, data: bytes) -> None:
        self.font = font
        self.data = data  # the file, for a fresh fontTools object per document
        # the glyphs of the _COMMON characters (and .notdef, which every subset keeps): a
        # document that uses no others can be cut from the pre-cut font
        common = {font.cmap[code] for code in _COMMON if code in font.cmap}
        self.common_glyphs = frozenset({".notdef", *common})
        self._precut: bytes | None = None
        self._lock = threading.Lock()

    @functools.cached_property
    def digest(self) -> str:
        """The SHA-256 of the file: asked only when a batch hands cuts between processes."""
        return hashlib.sha256(self.data).hexdigest()

    def precut(self) -> bytes:
        """The face cut down, as fpdf2 cuts it, to the common glyphs (made once)."""
        with self._lock:
            if self._precut is None:
                self._precut = _precut(self.data, self.common_glyphs)
            return self._precut

    def made(self) -> bytes | None:
        """The cut, if this process has made (or taken) it."""
        with self._lock:
            return self._precut

    def take(self, cut: Cut) -> None:
        """Another process's cut of the same file, instead of making it again."""
        with self._lock:
            if self._precut is None and cut.digest == self.digest:
                self._precut = cut.data


# Western European text: every glyph of these that the face has is kept in the pre-cut font
_COMMON = frozenset(
    code
    for first, last in ((0x20, 0x7E), (0xA0, 0x17F), (0x2010, 0x2027), (0x2030, 0x203A))
    for code in range(first, last + 1)
) | {0x20AC}  # the euro sign


def _subset_options() -> ftsubset.Options:
    """The options fpdf2 2.8 subsets with when it writes a PDF (fpdf/output.py, _add_fonts;
    should a later fpdf2 change them, tests/unit/test_pdf_fonts.py fails)."""
    options = ftsubset.Options(notdef_outline=True, recommended_glyphs=True)
    options.drop_tables += [
        *("FFTM", "GDEF", "GPOS", "GSUB", "MATH", "hdmx", "meta", "sbix", "CBDT", "CBLC"),
        *("EBDT", "EBLC", "EBSC", "SVG ", "CPAL", "COLR"),
    ]
    return options


def _precut(data: bytes, glyphs: frozenset[str]) -> bytes:
    ttfont = TTFont(BytesIO(data), recalcTimestamp=False, lazy=True)
    subsetter = ftsubset.Subsetter(_subset_options())
    subsetter.populate(glyphs=sorted(glyphs))
    subsetter.subset(ttfont)
    out = BytesIO()
    ttfont.save(out)
    ttfont.close()
    return out.getvalue()


_UNEMBEDDED_LAYOUT = ("GDEF", "GSUB", "GPOS")  # in fpdf2 2.8's drop_tables when it subsets
_parse_lock = threading.Lock()
_parsed_fonts: dict[tuple[Path, str], _Parsed | None] = {}


def _parsed(path: Path, style: str) -> _Parsed | None:
    """The font at ``path`` parsed by fpdf2 (None when it cannot be shared)."""
    key = (path, style)
    if key not in _parsed_fonts:
        with _parse_lock:  # two threads' first documents parse it once, not twice
            if key not in _parsed_fonts:
                _parsed_fonts[key] = _parse(path, style)
    return _parsed_fonts[key]


def _parse(path: Path, style: str) -> _Parsed | None:
    scratch = FPDF()
    scratch.add_font("parsed", style, path)
    font = scratch.fonts[f"parsed{style}"]
    assert isinstance(font, TTFFont)
    ttfont = font.ttfont
    notdef_added = "glyf" in ttfont and ".notdef" not in ttfont["glyf"]
    cid_keyed_cff = font.is_cff and font.is_cid_keyed  # add_font also raises the PDF version
    if notdef_added or cid_keyed_cff or font.color_font is not None or font.is_compressed:
        return None
    font.close()
    return _Parsed(font, path.read_bytes())


def _document_copy(parsed: _Parsed, index: int, fontkey: str) -> TTFFont:
    """A font for one document, sharing the parsed read-only parts of ``parsed``."""
    source = parsed.font
    font: TTFFont = TTFFont.__new__(TTFFont)
    for name in (
        "type", "name", "sp", "ss", "up", "ut", "ttffile", "emphasis", "scale", "cmap",
        "palette_index", "is_compressed", "is_cff", "is_cid_keyed",
        "is_symbol", "cff_ros", "collection_font_number", "color_font",
    ):  # fmt: skip
        setattr(font, name, getattr(source, name))
    font.i = index
    font.fontkey = fontkey
    font.desc = copy.copy(source.desc)
    font.cw = copy.copy(source.cw)  # a defaultdict: copied with its default width
    font.glyph_ids = dict(source.glyph_ids)
    font.missing_glyphs = []
    font.biggest_size_pt = 0
    font._hbfont = None
    font.ttfont = TTFont(
        BytesIO(parsed.data),
        recalcTimestamp=False,
        fontNumber=source.collection_font_number,
        lazy=True,
    )
    # fpdf2 drops the OpenType layout tables from the embedded subset (and, with GPOS there,
    # the legacy kern table), but fontTools' subsetter decompiles GDEF/GSUB/GPOS before it
    # drops them: ~40 ms per DejaVu face per document for nothing. Leave them out up front.
    if "GPOS" in font.ttfont and "kern" in font.ttfont:
        del font.ttfont["kern"]
    for tag in _UNEMBEDDED_LAYOUT:
        if tag in font.ttfont:
            del font.ttfont[tag]
    font.subset = SubsetMap(font)
    return font


def warm_up(fonts: FontSet, *, cut: bool = True) -> None:
    """Parse the regular and bold faces now (a batch worker, before its first invoice), and
    pre-cut them unless ``cut`` is False (the cut is then made, or taken from another process
    with ``take_cuts``, when a document first needs it); the fallbacks are parsed when a
    document first needs them."""
    for path, style in ((fonts.regular, ""), (fonts.bold, "B")):
        parsed = _parsed(path, style)
        if parsed is not None and cut:
            parsed.precut()


@dataclass(frozen=True, slots=True)
class Cut:
    """A face's pre-cut font, as one process made it, for another to take (~0.06 s of CPU per
    DejaVu face to make); ``digest`` is the SHA-256 of the file it was cut from."""

    path: Path
    style: str
    digest: str
    data: bytes


def cuts_made(fonts: FontSet) -> tuple[Cut, ...]:
    """The pre-cuts of the regular and bold faces that this process has made so far."""
    cuts = []
    for path, style in ((fonts.regular, ""), (fonts.bold, "B")):
        parsed = _parsed_fonts.get((path, style))
        made = parsed.made() if parsed is not None else None
        if parsed is not None and made is not None:
            cuts.append(Cut(path, style, parsed.digest, made))
    return tuple(cuts)


def take_cuts(cuts: Iterable[Cut]) -> None:
    """Use another process's pre-cuts where this process has not made its own; a cut of other
    bytes than the file this process read (the file was replaced) is not taken."""
    for cut in cuts:
        parsed = _parsed(cut.path, cut.style)
        if parsed is not None:
            parsed.take(cut)


def add_font(
    pdf: FPDF, family: str, style: str, path: Path, *, shared: bool = True
) -> SharedFont | None:
    """``pdf.add_font(family, style, path)``, parsing the file once per process when
    ``shared`` (the default) and the font allows it; then returns the shared font, whose
    ``cut()`` must be called before ``pdf.output()``."""
    parsed = _parsed(path, style) if shared else None
    fontkey = f"{family.lower()}{style}"
    if parsed is None or fontkey in pdf.fonts:
        pdf.add_font(family, style, path)
        return None
    font = _document_copy(parsed, len(pdf.fonts) + 1, fontkey)
    pdf.fonts[fontkey] = font
    return SharedFont(font, parsed)


@dataclass(frozen=True, slots=True)
class SharedFont:
    """A document's copy of a font parsed once per process."""

    font: TTFFont
    parsed: _Parsed

    def cut(self) -> None:
        """Before output: when every glyph the document drew is in the pre-cut font, let fpdf2
        subset that (~400 glyphs) instead of the whole face (~6,000 glyphs, ~0.2 s of fontTools
        work per face and document). Subsetting the pre-cut font to the document's glyphs gives
        the same bytes as subsetting the whole face, as both cuts keep the glyphs in the face's
        order with the same options (checked against ``FPDF.add_font`` by the tests)."""
        if not set(self.font.subset.get_all_glyph_names()) <= self.parsed.common_glyphs:
            return
        self.font.ttfont.close()
        self.font.ttfont = TTFont(
            BytesIO(self.parsed.precut()),
            recalcTimestamp=False,
            fontNumber=self.font.collection_font_number,
            lazy=True,
        )


def install(pdf: FPDF, fonts: FontSet, texts: Iterable[str], *, shared: bool = True) -> Metrics:
    """Add the fonts to ``pdf`` (fallbacks only if ``texts`` need them); return their metrics.

    Loading the CJK fallback costs ~0.2 s, five times the main fonts, so documents that have
    no CJK text never pay for it. With ``shared`` (the default) each font file is parsed once
    per process (see ``add_font``); ``shared=False`` parses it again, as ``FPDF.add_font`` does.
    """
    added = [
        add_font(pdf, "body", "", fonts.regular, shared=shared),
        add_font(pdf, "body", "B", fonts.bold, shared=shared),
    ]
    needed = set("".join(texts))
    missing = {ord(c) for c in needed} - coverage(fonts.regular) - {10, 13}
    fallbacks: list[_Font] = []
    family_names: list[str] = []
    for index, path in enumerate(fonts.fallbacks):
        if not missing:
            break
        covered = missing & coverage(path)
        if not covered:
            continue
        name = f"fallback{index}"
        added.append(add_font(pdf, name, "", path, shared=shared))
        family_names.append(name)
        fallbacks.append(pdf.fonts[name])  # type: ignore[arg-type]
        missing -= covered
    if family_names:
        # exact_match=False: bold CJK text falls back to the regular CJK face
        pdf.set_fallback_fonts(family_names, exact_match=False)
    shared_fonts = [font for font in added if font is not None]
    return Metrics(pdf.fonts[REGULAR], pdf.fonts[BOLD], fallbacks, shared_fonts)  # type: ignore[arg-type]
