"""What a PDF takes from configuration rather than from the ledger: the logo and the fonts.

The seller's name, address, tax number and payment instructions are account settings (events
in the ledger, copied onto each invoice when it is issued). A logo is a file on the machine
that renders, so it comes from ``TOLLBOOK_PDF_LOGO`` (a PNG or JPEG path). Changing the logo
changes the bytes of every PDF rendered afterwards.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from adapters.config_error import ConfigError
from adapters.pdf.fonts import FontSet


@dataclass(frozen=True, slots=True)
class Logo:
    path: Path
    width_px: int
    height_px: int


@dataclass(frozen=True, slots=True)
class PdfConfig:
    fonts: FontSet = field(default_factory=FontSet)
    logo: Logo | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> PdfConfig:
        env = os.environ if environ is None else environ
        logo = env.get("TOLLBOOK_PDF_LOGO")
        return cls(fonts=FontSet.from_env(env), logo=load_logo(Path(logo)) if logo else None)


def load_logo(path: Path) -> Logo:
    """Check the logo once, up front: a broken path should not surface mid-batch."""
    try:
        with Image.open(path) as image:
            if image.format not in ("PNG", "JPEG"):
                raise ConfigError(f"logo {path} is {image.format}: use a PNG or JPEG file")
            width, height = image.size
    except FileNotFoundError:
        raise ConfigError(f"logo {path} (TOLLBOOK_PDF_LOGO) does not exist") from None
    except (UnidentifiedImageError, OSError) as error:
        raise ConfigError(f"logo {path} (TOLLBOOK_PDF_LOGO) is not an image: {error}") from None
    return Logo(path=path, width_px=width, height_px=height)
