"""Read model: each invoice's document as JSON (table ``rm_invoice_document``), so ``tollbook
invoice show`` can print it without importing the domain (docs/performance.md, "CLI start").

The document is ``projections.invoice_document.invoice_doc`` of the ``Invoice`` aggregate folded
by the domain itself, at the version of the event applied, without a day: its ``status`` is the
status of the figures, and whoever reads it applies ``domain.invoice_status.on_day`` for the
day's (``overdue``). The money is never worked out here: only the aggregate's fold does that.

A handler is given only the event's ids, so the event applied is decoded in full through the
ledger's own mapper from its stored form, which the runner hands over with each batch
(``batch_read``: the rows it read for the batch, so the log is not read a second time); an
event not among them (a handler called without its batch) is read from the invoice's own
events, and an invoice not met since the read model's process started is folded from its own
events first. Folded invoices stay in a bounded cache, so a catch-up or rebuild decodes and
folds each event once; the cache only ever holds the fold of committed events, so a batch that
is refused or retried cannot leave it wrong. Each invoice's document is laid out once per
batch, at the last version the batch applied (``batch_applied``), not once per event.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any
from uuid import UUID

import msgspec
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic

from domain.aggregate import Event
from domain.invoice import Invoice
from projections.invoice_document import invoice_doc
from projections.view import EventLog, EventRow, Projection, Table, ViewWriter, id_text, on

DOCUMENTS = Table(
    "rm_invoice_document",
    key=("invoice_id",),
    columns={"invoice_id": "text", "number": "text", "version": "int", "document": "text"},
    indexes=(("number",),),
)
#: invoices whose folded aggregate is kept between events (a rebuild meets an invoice's events
#: close together in the log; an evicted one is read from the log again)
CACHE_SIZE = 4096


_encode = msgspec.json.Encoder().encode


def document_text(document: dict[str, Any]) -> str:
    """The document as compact JSON text: what the reader loads back (stored_invoices.py).

    msgspec encodes it five times faster than ``json.dumps``, as UTF-8 with every control
    character (NUL included) an escape, which both databases' text columns hold. A string
    UTF-8 cannot hold (a lone surrogate, which a stored event's JSON escape may carry) fails
    there, and is written as ``json.dumps`` writes it, an ASCII escape."""
    try:
        return _encode(document).decode()
    except UnicodeEncodeError:
        return json.dumps(document, separators=(",", ":"))


class InvoiceDocuments(Projection):
    """Every invoice's document, as ``invoice show --json`` prints it (without a day)."""

    name = "invoice_documents"
    tables = (DOCUMENTS,)

    def __init__(self) -> None:
        self.log: EventLog | None = None
        self._topics = frozenset(get_topic(kind) for kind in Invoice.declared_events())
        #: invoice id -> the invoice folded to its version (most recently used last)
        self._folded: OrderedDict[str, Invoice] = OrderedDict()
        #: log position -> the stored invoice event there, of the batch being applied
        self._stored: dict[int, EventRow] = {}
        # the invoices a batch changed, written once each when it has applied all its events
        self._batch: ViewWriter | None = None
        self._changed_in_batch: dict[str, Invoice] = {}

    def attach(self, log: EventLog) -> None:
        self.log = log
        self._folded.clear()
        self._stored = {}

    def batch_read(self, rows: Sequence[EventRow]) -> None:
        topics = self._topics
        self._stored = {row[0]: row for row in rows if row[3] in topics}

    def _changed(self, event: Event, position: int, view: ViewWriter) -> None:
        if view is not self._batch:  # a new batch: what one that failed left is not its own
            self._batch = view
            self._changed_in_batch.clear()
        key = id_text(event.originator_id)
        self._changed_in_batch[key] = self._fold(key, event, position)

    for _kind in Invoice.declared_events():  # every invoice event moves its document's version
        _changed = on(_kind)(_changed)
    del _kind

    def batch_applied(self, view: ViewWriter) -> None:
        """One document per invoice the batch changed, at the last version it applied: an
        invoice drafted, given lines and issued in one batch is laid out once, not per event."""
        if view is not self._batch:
            return
        for key, invoice in self._changed_in_batch.items():
            view.put(
                DOCUMENTS,
                {
                    "invoice_id": key,
                    "number": invoice.number,
                    "version": invoice.version,
                    "document": document_text(invoice_doc(invoice)),
                },
            )
        self._batch = None
        self._changed_in_batch = {}
        self._stored = {}

    def _fold(self, key: str, event: Any, position: int) -> Invoice:
        """The invoice ``key`` folded by the domain up to the version of ``event``, the event
        at log ``position``."""
        version: int = event.originator_version
        # out of the cache while it folds: an event the domain refuses may leave it half done
        invoice = self._folded.pop(key, None)
        if invoice is not None and invoice.version > version:  # a batch applied again
            invoice = None
        folded = 0 if invoice is None else invoice.version
        if folded < version - 1:  # not met since this process started: its earlier events
            for stored in self._events(key, folded, version - 1):
                invoice = self._decoded(stored).mutate(invoice)
            folded = version - 1
        if folded == version - 1:
            invoice = self._full(event, position, key, invoice).mutate(invoice)
        assert invoice is not None  # versions start at 1
        self._folded[key] = invoice
        if len(self._folded) > CACHE_SIZE:
            self._folded.popitem(last=False)
        return invoice

    def _decoded(self, stored: Any) -> Event:
        assert self.log is not None
        event: Event = self.log.mapper.to_domain_event(stored)  # type: ignore[assignment]
        return event

    def _events(self, key: str, after: int, version: int) -> Sequence[Any]:
        """The invoice's stored events after version ``after`` up to ``version``."""
        if self.log is None:
            raise RuntimeError(f"{self.name}: no event log attached to read invoices from")
        found = self.log.recorder.select_events(UUID(key), gt=after or None, lte=version)
        if len(found) != version - after:  # the log always holds what it notified
            raise LookupError(f"invoice {key} has no version {version} in the log")
        return found

    def _full(self, event: Any, position: int, key: str, invoice: Invoice | None) -> Event:
        """The domain event applied at log ``position``: the one given when it is one (a
        handler called with the full event), else decoded from its stored row in the batch,
        else from the invoice's own events in the log."""
        if isinstance(event, Event):
            return event
        version: int = event.originator_version
        row = self._stored.get(position)
        if row is None or row[1] != key or row[2] != version:
            [stored] = self._events(key, version - 1, version)
            return self._decoded(stored)
        _, _, _, topic, state = row
        # the folded invoice's own id, when there is one: the mapper makes a UUID of the
        # text otherwise, at every event
        originator = invoice.id if invoice is not None else UUID(key)
        return self._decoded(
            StoredEvent(
                originator_id=originator, originator_version=version, topic=topic, state=state
            )
        )
