"""A customer's structured postal address: up to four lines, city, region, postal code, country.

Customers registered before addresses had structure hold one free-text ``billing_address``.
Those events are never rewritten; the free text maps to an address by ``from_free_text``:

- every non-blank line of the text (split on line breaks only, each trimmed) becomes one
  address line, in order; commas are part of a line, never a split point (a comma inside
  "Flat 2, 10 Rue X" is not a field boundary we could know);
- city, region, postal code and country stay empty: the text does not say which part is which;
- nothing is dropped: a text of more than four lines, or with a line longer than a structured
  line may be, maps to that many lines, as they are. It is shown in full (PDF) and every
  exporter keeps every line (docs/exports.md); the limits of a structured address apply only
  to an address someone sets.

Setting a structured address (``Customer.AddressChanged``) replaces the free text wherever the
address is shown or exported; removing it (``null``) shows the free text again.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pydantic import field_validator

from domain import limits
from domain.countries import COUNTRY_NAMES
from domain.errors import InvalidCharacters, InvalidInput, UnknownCountry
from domain.values import Frozen

# Postal codes the world over are ASCII letters and digits, with spaces or hyphens between.
_POSTAL_CODE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9 -]*[A-Za-z0-9])?")


class PostalAddress(Frozen):
    """An address as it is printed and exported. ``country`` is an ISO 3166-1 alpha-2 code."""

    lines: tuple[str, ...] = ()
    city: str = ""
    region: str = ""
    postal_code: str = ""
    country: str = ""

    # the same address however it was typed: parts trimmed, blank lines left out, code upper
    @field_validator("lines")
    @classmethod
    def _lines(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(line.strip() for line in value if line.strip())

    @field_validator("city", "region", "postal_code")
    @classmethod
    def _trimmed(cls, value: str) -> str:
        return value.strip()

    @field_validator("country")
    @classmethod
    def _code(cls, value: str) -> str:
        return value.strip().upper()

    @classmethod
    def from_free_text(cls, text: str) -> PostalAddress:
        """The address a pre-structure free-text billing address stands for (see above)."""
        return cls(lines=tuple(line.strip() for line in text.splitlines() if line.strip()))

    @property
    def is_empty(self) -> bool:
        return not (self.lines or self.city or self.region or self.postal_code or self.country)

    @property
    def country_name(self) -> str:
        return COUNTRY_NAMES.get(self.country, self.country)

    def __str__(self) -> str:
        # one line for histories and messages ("address None → 1 Road / Leeds / GB")
        return " / ".join(self.printed())

    def printed(self) -> list[str]:
        """The lines of an address block: lines, city, region, postal code, country name."""
        tail = [self.city, self.region, self.postal_code, self.country_name]
        return [*self.lines, *(part for part in tail if part)]


def postal_address(
    lines: Iterable[str],
    city: str = "",
    region: str = "",
    postal_code: str = "",
    country: str = "",
) -> PostalAddress:
    """A structured address from what a person typed, checked (``check_address``)."""
    address = PostalAddress(
        lines=tuple(lines), city=city, region=region, postal_code=postal_code, country=country
    )
    return check_address(address)


def check_address(address: PostalAddress) -> PostalAddress:
    """Within the limits of domain/limits.py; refusals never echo the refused text."""
    # the fields are the parts' names as the portal's form (and its tests) name them
    lines = "address_lines"
    if not address.lines:
        raise InvalidInput("an address needs at least one address line", field=lines)
    limits.check_count(
        len(address.lines), limits.MAX_ADDRESS_LINES, what="address lines", field=lines
    )
    for number, line in enumerate(address.lines, start=1):
        limits.check_text(line, limits.ADDRESS_LINE, what=f"address line {number}", field=lines)
    limits.check_text(address.city, limits.CITY, field="city")
    limits.check_text(address.region, limits.REGION, field="region")
    limits.check_text(address.postal_code, limits.POSTAL_CODE, field="postal_code")
    if address.postal_code and not _POSTAL_CODE.fullmatch(address.postal_code):
        raise InvalidCharacters(
            "postal code must be letters, digits, spaces and hyphens (ASCII), starting and"
            " ending with a letter or digit",
            field="postal_code",
        )
    if address.country and address.country not in COUNTRY_NAMES:
        raise UnknownCountry(
            "country must be an ISO 3166-1 alpha-2 code such as GB, DE or JP, got"
            f" {limits.shown(repr(address.country[:8]))}",
            field="country",
        )
    return address
