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
from collections.abc import Mapping
from typing import Any

from adapters.store.direct_read import (
    POSTGRES_EVENTS,
    SQLITE_EVENTS,
    direct_store,
    postgres_rows,
    sqlite_rows,
)

#: ``domain.settings.SETTINGS_ID`` (uuid5 of the URL namespace and "tollbook:settings") as hex,
#: written out: computing it imports hashlib, a tenth of what is left of this command's start
SETTINGS_ROW_ID = "33d5f42d131a5cf6be188d0731676326"
INITIALISED = "domain.settings:AccountSettings.Initialised"
CHANGED = "domain.settings:AccountSettings.Changed"

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


def stored_settings(
    given_url: str | None, environ: Mapping[str, str] | None = None
) -> dict[str, Any] | None:
    """The settings document of the store at ``given_url`` (None: the configured one), or None
    when the ledger must answer (see the module's docstring)."""
    store = direct_store(given_url, environ)
    if store is None:
        return None
    dialect, env = store
    if dialect == "sqlite":
        rows = sqlite_rows(
            env,
            f"SELECT topic, state FROM {SQLITE_EVENTS} WHERE originator_id = ?"
            " ORDER BY originator_version",
            (SETTINGS_ROW_ID,),
        )
    else:
        from uuid import UUID

        rows = postgres_rows(
            env,
            f"SELECT topic, state FROM {{schema}}.{POSTGRES_EVENTS} WHERE originator_id = %s"
            " ORDER BY originator_version",
            (UUID(hex=SETTINGS_ROW_ID),),
        )
    return None if rows is None else _folded([(topic, bytes(state)) for topic, state in rows])


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
