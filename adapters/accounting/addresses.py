"""Fitting a customer's address into an accounting system's address fields, dropping nothing.

Each system has fewer street-line fields than an address may hold (Xero 4, Clear Books and
FreshBooks 2; a free-text address from before addresses had structure may have more lines
still): the lines past the system's last line field are joined into that field with ", ". When
a field would then be longer than the system allows, the contact is refused here (a dead
letter naming the field), never cut: a person sets a structured address and retries. Each
client maps the fitted parts to its own field names (docs/exports.md, "Addresses").
"""

from __future__ import annotations

from collections.abc import Sequence

from adapters.accounting.errors import RemoteRejected
from domain.address import PostalAddress

JOINER = ", "


class AddressDoesNotFit(RemoteRejected):
    """A part of the address is longer than the remote field that would hold it."""


def fit_lines(lines: Sequence[str], fields: int, limit: int | None, system: str) -> list[str]:
    """``lines`` in at most ``fields`` values: the extra lines joined into the last one."""
    fitted = list(lines[: fields - 1])
    rest = list(lines[fields - 1 :])
    if rest:
        fitted.append(JOINER.join(rest))
    for number, text in enumerate(fitted, start=1):
        fits(text, limit, system, f"address line {number}")
    return fitted


def parts(address: PostalAddress, fields: int, system: str) -> list[str]:
    """The lines fitted into ``fields`` values (padded with "": a removed line is cleared),
    then city, region and postal code, for a system that publishes no lengths."""
    lines = fit_lines(address.lines, fields, None, system)
    padding = [""] * (fields - len(lines))
    return [*lines, *padding, address.city, address.region, address.postal_code]


def fits(text: str, limit: int | None, system: str, what: str) -> str:
    """``text`` when ``limit`` (characters; None: the system publishes none) allows it."""
    if limit is not None and len(text) > limit:
        raise AddressDoesNotFit(
            f"{system} holds at most {limit} characters in a contact's {what}, this customer's"
            f" would be {len(text)}: set a structured address"
            " (tollbook customer edit ACCOUNT --address-line ...) and retry"
        )
    return text
