"""The seller's settings read straight from the stored events, with ``sqlite3`` (or psycopg) and
``json`` alone: ``tollbook settings show`` answers without importing pydantic, eventsourcing or
the domain (~170 ms of CPU at every start; docs/performance.md, "CLI start").

The settings aggregate's events hold complete JSON dumps: ``Initialised`` all the values,
``Changed`` the changed fields' new values (domain/settings.py), each the validated model's
``model_dump(mode="json")``. Folding them gives the document ``SellerSettings.model_dump(mode=
"json")`` gives after the ledger's fold. Whenever that cannot be relied on, ``None`` is returned
and the caller takes the ledger's path: a store other than a SQLite file or PostgreSQL, the
library's compressor or cipher configured, the store unreachable, no event table yet (the
ledger creates it), an event type or a field set this module does not know (a field added
since the events were written gets its default from the model).
tests/e2e/test_cli_settings_fast_read.py holds ``DEFAULTS`` to the model and the two paths'
output to each other.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from adapters.store.settings import database_url, store_env

#: ``domain.settings.SETTINGS_ID`` (uuid5 of the URL namespace and "tollbook:settings") as hex,
#: written out: computing it imports hashlib, a tenth of what is left of this command's start
SETTINGS_ROW_ID = "33d5f42d131a5cf6be188d0731676326"
INITIALISED = "domain.settings:AccountSettings.Initialised"
CHANGED = "domain.settings:AccountSettings.Changed"
#: the library's events table in each store (the ledger's recorder names it)
SQLITE_EVENTS, POSTGRES_EVENTS = "stored_events", "tollbook_events"

#: ``SellerSettings().model_dump(mode="json")``: the settings before any change, in field order
DEFAULTS: dict[str, Any] = {
    "registration_number": "",
    "contact_email": "",
    "contact_phone": "",
    "iban": "",
    "bic": "",
    "sort_code": "",
    "bank_account_number": "",
    "company_name": "Your Company Ltd",
    "address": "",
    "tax_number": "",
    "default_currency": "GBP",
    "default_tax_rate": "0",
    "default_tax_description": "No tax",
    "default_payment_terms_days": 30,
    "invoice_number_format": "INV-{year}-{seq:06d}",
    "credit_note_number_format": "CN-{year}-{seq:06d}",
    "invoice_line_grouping": "destination",
    "payment_instructions": "",
    "minimum_invoice_amount": "0",
    "country": "",
    "tax_rounding": "per_line",
}

# the library's settings that change how a stored event's bytes read
_ENCODING_SETTINGS = ("COMPRESSOR_TOPIC", "CIPHER_TOPIC", "CIPHER_KEY")


def stored_settings(
    given_url: str | None, environ: Mapping[str, str] | None = None
) -> dict[str, Any] | None:
    """The settings document of the store at ``given_url`` (None: the configured one), or None
    when the ledger must answer (see the module's docstring)."""
    environ = os.environ if environ is None else environ
    library_configured = "TOLLBOOK_DATABASE_URL" not in environ and "PERSISTENCE_MODULE" in environ
    if given_url is None and library_configured:  # the library's own variables: ledger's path
        return None
    if any(environ.get(name) for name in _ENCODING_SETTINGS):
        return None
    url = given_url or database_url(environ)
    if url.startswith("sqlite:"):
        return _from_sqlite(store_env(url))
    if url.startswith(("postgres:", "postgresql:")):
        return _from_postgres(store_env(url))
    return None


def _from_sqlite(env: Mapping[str, str]) -> dict[str, Any] | None:
    path = env.get("SQLITE_DBNAME", "")
    if not path or path == ":memory:" or not Path(path).is_file():
        return None
    try:
        connection = sqlite3.connect(f"file:{quote(path)}?mode=ro", uri=True, timeout=30)
        try:
            rows = connection.execute(
                f"SELECT topic, state FROM {SQLITE_EVENTS} WHERE originator_id = ?"
                " ORDER BY originator_version",
                (SETTINGS_ROW_ID,),
            ).fetchall()
        finally:
            connection.close()
    except sqlite3.Error:  # no event table yet, or a file that is not a store: the ledger says
        return None
    return _folded(rows)


def _from_postgres(env: Mapping[str, str]) -> dict[str, Any] | None:
    # psycopg alone costs ~115 ms of CPU to import (docs/performance.md): still far less than
    # pydantic and the domain, and the set-up lock build_ledger takes is not needed to read
    from uuid import UUID

    import psycopg
    from psycopg import sql

    from adapters.store.settings import postgres_connect

    query = sql.SQL(
        "SELECT topic, state FROM {}.{} WHERE originator_id = %s ORDER BY originator_version"
    ).format(
        sql.Identifier(env.get("POSTGRES_SCHEMA", "").strip() or "public"),
        sql.Identifier(POSTGRES_EVENTS),
    )
    try:
        with postgres_connect(env, connect_timeout=10) as connection:
            rows = connection.execute(query, (UUID(hex=SETTINGS_ROW_ID),)).fetchall()
    except psycopg.Error:  # the store down, no event table yet: the ledger's path says why
        return None
    return _folded([(topic, bytes(state)) for topic, state in rows])


def _folded(rows: list[tuple[str, bytes]]) -> dict[str, Any] | None:
    if not rows:
        return dict(DEFAULTS)  # never initialised: the ledger answers SellerSettings()
    (first_topic, first_state), changes = rows[0], rows[1:]
    if first_topic != INITIALISED or any(topic != CHANGED for topic, _ in changes):
        return None
    try:
        values = json.loads(first_state)["values"]
        for _, state in changes:
            values = {**values, **json.loads(state)["after"]}
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(values, dict) or list(values) != list(DEFAULTS):
        return None
    return values
