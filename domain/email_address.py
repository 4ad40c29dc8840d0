"""Billing e-mail addresses: a customer's ``email`` holds one or several, comma-separated.

The check is deliberately narrow (docs/email.md, "Addresses"): an address is what SMTP's
``RCPT TO`` carries — a local part and a domain of printable ASCII, no spaces, quotes, angle
brackets or line breaks (a line break in a header is how a recipient list is hijacked).
"""

from __future__ import annotations

import re

from domain import limits
from domain.errors import InvalidInput

#: at most this many addresses per customer (one message goes to all of them)
MAX_ADDRESSES = 10
#: RFC 5321: 64 characters of local part, 254 in all
MAX_LOCAL = 64
_LOCAL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+")
_DOMAIN = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{1,63}")


def check_address(address: str, field: str = "email") -> str:
    """One address, stripped, or a clear error naming what is wrong with it."""
    text = address.strip()
    limits.check_text(text, limits.EMAIL, field=field)
    local, at, domain = text.rpartition("@")
    if not at or not local or not domain:
        raise InvalidInput(f"{text!r} is not an e-mail address (no user@domain)", field=field)
    if len(local) > MAX_LOCAL or not _LOCAL.fullmatch(local) or ".." in local:
        raise InvalidInput(f"{text!r}: the part before @ is not a valid mailbox", field=field)
    if local.startswith(".") or local.endswith("."):
        raise InvalidInput(f"{text!r}: the part before @ is not a valid mailbox", field=field)
    if not _DOMAIN.fullmatch(domain):
        raise InvalidInput(f"{text!r}: {domain!r} is not a valid mail domain", field=field)
    return text


def parse_addresses(
    value: str | list[str] | tuple[str, ...], field: str = "email"
) -> tuple[str, ...]:
    """Every address of a comma-separated text (or list), validated, duplicates dropped."""
    if isinstance(value, str):
        limits.check_text(value, limits.BILLING_EMAILS, field=field)
    parts = value.split(",") if isinstance(value, str) else list(value)
    if len(parts) > MAX_ADDRESSES * 2:  # before any per-address work on a huge list
        raise InvalidInput(
            f"{len(parts)} addresses: at most {MAX_ADDRESSES} per customer", field=field
        )
    found: list[str] = []
    for part in parts:
        if not part.strip():
            if isinstance(value, str) and not value.strip():
                continue
            raise InvalidInput("an empty address in the list (two commas?)", field=field)
        address = check_address(part, field)
        if address.lower() not in {a.lower() for a in found}:
            found.append(address)
    if len(found) > MAX_ADDRESSES:
        raise InvalidInput(
            f"{len(found)} addresses: at most {MAX_ADDRESSES} per customer", field=field
        )
    return tuple(found)


def check_billing_emails(value: str, field: str = "email") -> None:
    """A customer's ``email`` field: empty, or a list :func:`parse_addresses` accepts."""
    parse_addresses(value, field)
