"""The names of tenants and nodes, and the URLs of nodes: what the tenant directory accepts.

A tenant's name becomes part of NATS subjects (``tollbook.<tenant>.…``), of a PostgreSQL schema
name (``tenant_<name>``), of a SQLite file name, of every API key and portal session token of
that tenant (``tbk_<tenant>.…``). So it is strict: a lowercase letter, then lowercase letters,
digits or ``_``, 32 at most. No ``-`` (a schema name would need quoting), no ``.`` (the
separator of subjects and key prefixes), no upper case (one tenant, one spelling). A node's
name follows the same rule; a node's URL names a PostgreSQL database (each tenant a schema of
it) or a folder of SQLite files (each tenant a file in it).
"""

from __future__ import annotations

import re
from urllib.parse import urlparse

from domain.errors import InvalidInput

MAX_NAME_LENGTH = 32
MAX_NODE_URL_LENGTH = 1_000
#: the schema (PostgreSQL) or file-name (SQLite) prefix of every tenant's store
SCHEMA_PREFIX = "tenant_"

_NAME = re.compile(r"[a-z][a-z0-9_]*")
NODE_SCHEMES = ("postgresql", "postgres", "sqlite")


def _name(text: str, what: str) -> str:
    if (
        not isinstance(text, str)
        or not 1 <= len(text) <= MAX_NAME_LENGTH
        or not _NAME.fullmatch(text)
    ):
        shown = text[:80] if isinstance(text, str) else text
        raise InvalidInput(
            f"a {what} name is 1-{MAX_NAME_LENGTH} characters of a-z, 0-9 and '_', starting"
            f" with a letter (got {shown!r})",
            field=what,
        )
    return text


def tenant_name(text: str) -> str:
    return _name(text, "tenant")


def node_name(text: str) -> str:
    return _name(text, "node")


def node_url(text: str) -> str:
    """A node's URL: ``postgresql://user@host:port/database`` (no query: the directory adds
    each tenant's schema) or ``sqlite:///folder`` (each tenant a file in the folder)."""
    if not isinstance(text, str) or not 1 <= len(text) <= MAX_NODE_URL_LENGTH:
        raise InvalidInput(f"a node URL is 1-{MAX_NODE_URL_LENGTH:,} characters", field="url")
    if not text.isascii() or not text.isprintable() or " " in text:
        raise InvalidInput(
            "a node URL is printable ASCII without spaces (percent-encode the rest)", field="url"
        )
    parsed = urlparse(text)
    if parsed.scheme not in NODE_SCHEMES:
        raise InvalidInput(
            f"a node URL is postgresql://… or sqlite:///folder, not {parsed.scheme or text[:40]!r}",
            field="url",
        )
    if parsed.query or parsed.fragment or text.endswith(("?", "#")):
        raise InvalidInput(
            "a node URL takes no query or fragment: each tenant's schema is added to it",
            field="url",
        )
    if parsed.scheme == "sqlite" and parsed.path.strip("/") in ("", ":memory:"):
        raise InvalidInput("a SQLite node URL names a folder: sqlite:///var/tenants", field="url")
    if parsed.scheme != "sqlite" and not parsed.path.strip("/"):
        raise InvalidInput(
            "a PostgreSQL node URL names its database: postgresql://host:5432/tollbook",
            field="url",
        )
    return text


def schema_name(tenant: str) -> str:
    """Where a tenant's store lives on its node: a PostgreSQL schema, or a SQLite file's stem."""
    return SCHEMA_PREFIX + tenant_name(tenant)


def store_url(node: str, tenant: str) -> str:
    """The store URL of ``tenant`` on the node at URL ``node``."""
    schema = schema_name(tenant)
    if node.startswith("sqlite:"):
        return f"{node.rstrip('/')}/{schema}.sqlite"
    return f"{node}?schema={schema}"


def tagged(tenant: str | None, token: str) -> str:
    """A secret token (API key, portal session) carrying its tenant's name in front, so a
    service of many tenants knows whose store to check it in: ``<tenant>.<secret>``."""
    return token if tenant is None else f"{tenant_name(tenant)}.{token}"


def tenant_of_token(token: str) -> str | None:
    """The tenant a tagged token names, or None (untagged, or not a tenant name)."""
    head, dot, _ = token[: MAX_NAME_LENGTH + 1].partition(".")
    if not dot or not 1 <= len(head) <= MAX_NAME_LENGTH or not _NAME.fullmatch(head):
        return None
    return head
