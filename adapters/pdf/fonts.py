"""The fonts a document embeds, and the text metrics the layout measures with.

Core PDF fonts are Latin-1 only, so every document embeds TrueType fonts (subset to the glyphs
used): DejaVu Sans for Latin, Greek and Cyrillic text, and, only when the text needs it, Droid
Sans Fallback for Chinese, Japanese and Korean glyphs (DejaVu has none). fpdf2 switches to the
fallback per glyph; the layout measures each glyph in the font that will draw it, so wrapped
lines and right-aligned numbers land where the layout says.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Protocol

from fontTools.ttLib import TTFont  # type: ignore[import-untyped]
from fpdf import FPDF

from adapters.config_error import ConfigError

DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
DEFAULT_REGULAR = DEJAVU / "DejaVuSans.ttf"
DEFAULT_BOLD = DEJAVU / "DejaVuSans-Bold.ttf"
DEFAULT_FALLBACKS = (Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"),)

PT = 25.4 / 72  # millimetres per typographic point

REGULAR, BOLD = "body", "bodyB"


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

    def __init__(self, regular: _Font, bold: _Font, fallbacks: list[_Font]) -> None:
        self._fonts = {False: regular, True: bold}
        self._fallbacks = fallbacks
        self._units: dict[tuple[str, bool], float] = {}

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


def install(pdf: FPDF, fonts: FontSet, texts: Iterable[str]) -> Metrics:
    """Add the fonts to ``pdf`` (fallbacks only if ``texts`` need them); return their metrics.

    Loading the CJK fallback costs ~0.2 s, five times the main fonts, so documents that have
    no CJK text never pay for it.
    """
    pdf.add_font("body", "", fonts.regular)
    pdf.add_font("body", "B", fonts.bold)
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
        pdf.add_font(name, "", path)
        family_names.append(name)
        fallbacks.append(pdf.fonts[name])  # type: ignore[arg-type]
        missing -= covered
    if family_names:
        # exact_match=False: bold CJK text falls back to the regular CJK face
        pdf.set_fallback_fonts(family_names, exact_match=False)
    return Metrics(pdf.fonts[REGULAR], pdf.fonts[BOLD], fallbacks)  # type: ignore[arg-type]
