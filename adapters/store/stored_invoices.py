"""An invoice's document read from the invoice documents read model with ``sqlite3`` (or
psycopg) and ``json`` alone: ``tollbook invoice show`` answers without importing pydantic,
eventsourcing or the domain's models (docs/performance.md, "CLI start").

The read model (projections/invoice_documents.py) stores ``invoice_doc`` of the aggregate the
domain folded, without a day; the caller applies the day's status (``domain.invoice_status.
on_day``, the rule ``Invoice.status`` ends with). A document is used only when it can be relied
on; otherwise None is returned and the ledger's path answers:

- the store cannot be read directly (adapters/store/direct_read.py);
- the read model is not at the log's head (its tracking position and the event table's last
  id are read in the same query, so one snapshot), was written by another shape of the tables,
  or is missing;
- the reference is not found as a number or an id spelled as the ledger would parse it (an id
  prefix, an unusual spelling: the ledger resolves those);
- the document is not one this reader knows (its amounts could not be computed, a key missing).
"""

from __future__ import annotations

import json
from typing import Any

from adapters.store.direct_read import (
    POSTGRES_EVENTS,
    SQLITE_EVENTS,
    direct_store,
    postgres_rows,
    sqlite_rows,
)

READ_MODEL, DOCUMENTS, TRACKING = "invoice_documents", "rm_invoice_document", "projection_tracking"
#: ``shape_of(InvoiceDocuments())``: the tables this reader was written for (a test holds it to
#: the read model; another shape is being rebuilt, or is a version this reader does not know)
SHAPE = "1f5391b70afd2a98"
#: the keys the caller reads from a document (the text output and the day's status)
NEEDED = ("status", "due_date", "number", "id", "version", "lines", "currency")
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")  # string.hexdigits, without its import

_QUERY = (
    "SELECT d.document,"
    " (SELECT position FROM {schema}{tracking} WHERE name = {mark} AND shape = {mark}),"
    " (SELECT max({event_id}) FROM {schema}{events})"
    " FROM {schema}{documents} AS d WHERE d.{column} = {mark} LIMIT 2"
)
#: what differs between the stores: the schema (psycopg's placeholder, filled in by
#: ``postgres_rows``), the events table and its notification id, the parameter marker
_DIALECTS = {
    "sqlite": {"schema": "", "events": SQLITE_EVENTS, "event_id": "rowid", "mark": "?"},
    "postgres": {
        "schema": "{schema}.",
        "events": POSTGRES_EVENTS,
        "event_id": "notification_id",
        "mark": "%s",
    },
}


def stored_invoice_document(
    given_url: str | None, ref: str, environ: dict[str, str] | None = None
) -> dict[str, Any] | None:
    """The stored document (without a day) of invoice ``ref`` (number or id) in the store at
    ``given_url`` (None: the configured one), or None when the ledger must answer."""
    store = direct_store(given_url, environ)
    column, value = _lookup(ref)
    if store is None or column is None:
        return None
    dialect, env = store
    query = _QUERY.format(
        tracking=TRACKING, documents=DOCUMENTS, column=column, **_DIALECTS[dialect]
    )
    read = sqlite_rows if dialect == "sqlite" else postgres_rows
    rows = read(env, query, (READ_MODEL, SHAPE, value))
    if rows is None or len(rows) != 1:
        return None
    [(document, position, head)] = rows
    if position is None or position != head:  # behind the log (or another shape): the ledger
        return None
    try:
        doc = json.loads(document)
    except ValueError:
        return None
    if not isinstance(doc, dict) or "error" in doc or any(key not in doc for key in NEEDED):
        return None
    return doc


def _lookup(ref: str) -> tuple[str | None, str]:
    """Which column ``ref`` is looked up by, as ``Ledger.invoice_id`` resolves it: an id first
    (any spelling ``uuid.UUID`` parses), else a number; None when only the ledger can tell."""
    digits = ref.replace("urn:", "").replace("uuid:", "").strip("{}").replace("-", "")
    if len(digits) != 32:
        return "number", ref
    if not all(c in _HEX_DIGITS for c in digits):  # int() might still read it (``_``, spaces)
        return None, ref
    digits = digits.lower()
    return "invoice_id", "-".join(
        (digits[:8], digits[8:12], digits[12:16], digits[16:20], digits[20:])
    )
