"""Where the usage data lives: ``TOLLBOOK_USAGE_DATABASE_URL``, or the ledger's own store.

Usage (CDRs, their imports) is bulk data read in sums: it may live on a PostgreSQL node of its
own while the ledger's events are on another. Nothing ties the two in a transaction: the
billing run only reads usage, and writes invoices to the ledger with deterministic ids, so a
run repeated after a crash between the two finds what it wrote and adds nothing twice.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from adapters.config_error import ConfigError
from adapters.store.database import Database

USAGE_VARIABLE = "TOLLBOOK_USAGE_DATABASE_URL"


def usage_database_url(environ: Mapping[str, str] | None = None) -> str | None:
    """The usage database's URL when it is set apart from the ledger's, else None."""
    environ = os.environ if environ is None else environ
    return environ.get(USAGE_VARIABLE, "").strip() or None


def usage_database(
    ledger_db: Database,
    environ: Mapping[str, str] | None = None,
    *,
    tenant: str | None = None,
) -> Database:
    """The database that holds the usage: ``TOLLBOOK_USAGE_DATABASE_URL``, else ``ledger_db``.
    For a tenant, its own part of that database (``tenant_usage_url``)."""
    url = usage_database_url(environ)
    if url is None:
        return ledger_db
    if tenant is not None:
        url = tenant_usage_url(url, tenant)
    try:
        db = Database.from_url(url)
    except (ValueError, ConfigError) as error:
        raise ConfigError(
            f"{USAGE_VARIABLE} must name a SQLite or PostgreSQL store: {error}"
        ) from None
    _ensure_schema(db)
    return db


def _ensure_schema(db: Database) -> None:
    """A ledger's store makes its schema on first use (adapters/config.build_ledger); the usage
    database does the same, so ``?schema=usage`` on a fresh node works as the docs say rather
    than failing with PostgreSQL's "no schema has been selected to create in"."""
    if db.dialect != "postgres" or not db.schema:
        return
    from psycopg import sql

    with db.autocommit_connection() as conn:
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(db.schema)))


def tenant_usage_url(url: str, tenant: str) -> str:
    """Tenant ``tenant``'s usage in the usage database at ``url``: schema ``<schema>_<tenant>``
    (``tenant_<tenant>`` when the URL names none) on PostgreSQL, file ``<name>_<tenant>.sqlite``
    beside the given one on SQLite. One variable set for every tenant's processes must never
    put two tenants' CDRs in one table: a billing run sums CDRs by account number, which two
    sellers may both use."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    from domain.tenancy import schema_name, tenant_name

    name = tenant_name(tenant)
    if url.startswith("sqlite:"):  # a file path, kept as written (urlsplit would eat a '/')
        folder, _, file = url.rpartition("/")
        stem = file[: -len(".sqlite")] if file.endswith(".sqlite") else file
        return f"{folder}/{stem}_{name}.sqlite"
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    schema = f"{query['schema']}_{name}" if query.get("schema") else schema_name(name)
    if len(schema.encode()) > 63:  # PostgreSQL would cut it short, and two tenants could meet
        raise ConfigError(
            f"{USAGE_VARIABLE}: the schema {schema!r} of tenant {name!r} is longer than 63 bytes;"
            " name a shorter schema"
        )
    query["schema"] = schema
    return urlunsplit(parts._replace(query=urlencode(query)))
