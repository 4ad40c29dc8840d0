"""The names tollbook gives itself on a message bus: the tenant label in subjects and message
ids, and the stream's name. Both arrive from outside (options, environment), so their limits
live here: NATS treats ``.`` as a subject separator and ``*``/``>`` as wildcards, and a stream
name becomes part of API subjects and of file names on the server."""

from __future__ import annotations

import re

from domain.errors import InvalidInput

#: the label of a single-seller install (until tenants exist, the only one)
DEFAULT_TENANT = "default"
MAX_TENANT_LENGTH = 63
MAX_STREAM_LENGTH = 64

# lowercase, so one tenant never appears under two subjects that differ only by case
_TENANT = re.compile(r"[a-z0-9][a-z0-9_-]*")
# letters, digits, '_' and '-': no '.', wildcards, whitespace or path separators
_STREAM = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")


def tenant_label(text: str) -> str:
    """A tenant's label as subjects and message ids carry it: 1-63 of a-z 0-9 _ -."""
    if not 1 <= len(text) <= MAX_TENANT_LENGTH or not _TENANT.fullmatch(text):
        raise InvalidInput(
            f"tenant must be 1-{MAX_TENANT_LENGTH} characters of a-z, 0-9, '_' or '-',"
            f" starting with a letter or digit (got {text[:80]!r})",
            field="tenant",
        )
    return text


def stream_name(text: str) -> str:
    """A JetStream stream name: 1-64 of A-Z a-z 0-9 _ -."""
    if not 1 <= len(text) <= MAX_STREAM_LENGTH or not _STREAM.fullmatch(text):
        raise InvalidInput(
            f"stream must be 1-{MAX_STREAM_LENGTH} characters of A-Z, a-z, 0-9, '_' or '-',"
            f" starting with a letter or digit (got {text[:80]!r})",
            field="stream",
        )
    return text
