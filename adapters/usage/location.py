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


def usage_database(ledger_db: Database, environ: Mapping[str, str] | None = None) -> Database:
    """The database that holds the usage: ``TOLLBOOK_USAGE_DATABASE_URL``, else ``ledger_db``."""
    url = usage_database_url(environ)
    if url is None:
        return ledger_db
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
