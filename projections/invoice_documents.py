"""Read model: each invoice's document as JSON (table ``rm_invoice_document``), so ``tollbook
invoice show`` can print it without importing the domain (docs/performance.md, "CLI start").

The document is ``projections.invoice_document.invoice_doc`` of the ``Invoice`` aggregate folded
by the domain itself, at the version of the event applied, without a day: its ``status`` is the
status of the figures, and whoever reads it applies ``domain.invoice_status.on_day`` for the
day's (``overdue``). The money is never worked out here: only the aggregate's fold does that.

A handler is given only the event's ids, so it folds the aggregate from the log, reading the
stored event through the ledger's own mapper: the event at the position applied comes from a
page of invoice events read with it (one query per page, not per event), and an invoice not
met since the read model's process started is folded from its own events first. Folded
invoices stay in a bounded cache, so a catch-up or rebuild decodes and folds each event once;
the cache only ever holds the fold of committed events, so a batch that is refused or retried
cannot leave it wrong. Each invoice's document is laid out once per batch, at the last version
the batch applied (``batch_applied``), not once per event.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification
from eventsourcing.utils import get_topic

from domain.aggregate import Event
from domain.invoice import Invoice
from projections.invoice_document import invoice_doc
from projections.view import EventLog, Projection, Table, ViewWriter, id_text, on

DOCUMENTS = Table(
    "rm_invoice_document",
    key=("invoice_id",),
    columns={"invoice_id": "text", "number": "text", "version": "int", "document": "text"},
    indexes=(("number",),),
)
#: invoices whose folded aggregate is kept between events (a rebuild meets an invoice's events
#: close together in the log; an evicted one is read from the log again)
CACHE_SIZE = 4096
#: invoice events read from the log at once, from the position of the event being applied
PAGE_SIZE = 2000


def invoice_event_types() -> tuple[type[Event], ...]:
    """Every event type of the ``Invoice`` aggregate: each one moves its version."""
    return tuple(
        value
        for value in vars(Invoice).values()
        if isinstance(value, type) and issubclass(value, Event)
    )


class InvoiceDocuments(Projection):
    """Every invoice's document, as ``invoice show --json`` prints it (without a day)."""

    name = "invoice_documents"
    tables = (DOCUMENTS,)

    def __init__(self) -> None:
        self.log: EventLog | None = None
        self._topics = [get_topic(kind) for kind in invoice_event_types()]
        #: invoice id -> the invoice folded to its version (most recently used last)
        self._folded: OrderedDict[str, Invoice] = OrderedDict()
        #: log position -> the stored invoice event there, read a page at a time
        self._page: dict[int, Notification] = {}
        # the invoices a batch changed, written once each when it has applied all its events
        self._batch: ViewWriter | None = None
        self._changed_in_batch: dict[str, Invoice] = {}

    def attach(self, log: EventLog) -> None:
        self.log = log
        self._folded.clear()
        self._page.clear()

    def _changed(self, event: Event, position: int, view: ViewWriter) -> None:
        if view is not self._batch:  # a new batch: what one that failed left is not its own
            self._batch = view
            self._changed_in_batch.clear()
        key = id_text(event.originator_id)
        self._changed_in_batch[key] = self._fold(key, event.originator_version, position)

    for _kind in invoice_event_types():  # every invoice event moves its document's version
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
                    # ASCII only: a stored NUL (or any control character) stays an escape,
                    # which both databases' text columns hold
                    "document": json.dumps(invoice_doc(invoice), separators=(",", ":")),
                },
            )
        self._batch = None
        self._changed_in_batch = {}

    def _fold(self, key: str, version: int, position: int) -> Invoice:
        """The invoice ``key`` folded by the domain up to ``version``, the event at log
        ``position``."""
        # out of the cache while it folds: an event the domain refuses may leave it half done
        invoice = self._folded.pop(key, None)
        if invoice is not None and invoice.version > version:  # a batch applied again
            invoice = None
        folded = 0 if invoice is None else invoice.version
        if folded < version - 1:  # not met since this process started: its earlier events
            for stored in self._events(key, folded, version - 1):
                invoice = self._apply(stored, invoice)
            folded = version - 1
        if folded == version - 1:
            invoice = self._apply(self._stored_at(position, key, version), invoice)
        assert invoice is not None  # versions start at 1
        self._folded[key] = invoice
        if len(self._folded) > CACHE_SIZE:
            self._folded.popitem(last=False)
        return invoice

    def _apply(self, stored: Any, invoice: Invoice | None) -> Invoice:
        assert self.log is not None
        event: Event = self.log.mapper.to_domain_event(stored)  # type: ignore[assignment]
        folded: Invoice = event.mutate(invoice)
        return folded

    def _events(self, key: str, after: int, version: int) -> Sequence[Any]:
        """The invoice's stored events after version ``after`` up to ``version``."""
        if self.log is None:
            raise RuntimeError(f"{self.name}: no event log attached to read invoices from")
        found = self.log.recorder.select_events(UUID(key), gt=after or None, lte=version)
        if len(found) != version - after:  # the log always holds what it notified
            raise LookupError(f"invoice {key} has no version {version} in the log")
        return found

    def _stored_at(self, position: int, key: str, version: int) -> Any:
        """The stored event at log ``position`` (the one applied): from the page of invoice
        events read with it, so a catch-up reads each event once per page, not per invoice."""
        stored = self._page.get(position)
        if stored is None and self.log is not None:
            page = self.log.recorder.select_notifications(position, PAGE_SIZE, topics=self._topics)
            self._page = {notification.id: notification for notification in page}
            stored = self._page.get(position)
        where = None if stored is None else (str(stored.originator_id), stored.originator_version)
        if where != (key, version):  # not where the runner said: ask for the invoice's own
            [stored] = self._events(key, version - 1, version)
        return stored
