"""Read model: each invoice's document as JSON (table ``rm_invoice_document``), so ``tollbook
invoice show`` can print it without importing the domain (docs/performance.md, "CLI start").

The document is ``projections.invoice_document.invoice_doc`` of the ``Invoice`` aggregate folded
by the domain itself, at the version of the event applied, without a day: its ``status`` is the
status of the figures, and whoever reads it applies ``domain.invoice_status.on_day`` for the
day's (``overdue``). The money is never worked out here: only the aggregate's fold does that.

A handler is given only the event's ids, so it folds the aggregate from the log: the events of
the invoice up to the version applied, read through the ledger's own mapper. Aggregates stay
in a bounded cache with the events already read past them, so a catch-up or rebuild reads each
invoice's events once in one query and folds each event once; the cache only ever holds the
fold of committed events, so a batch that is refused or retried cannot leave it wrong.
"""

from __future__ import annotations

import json
from collections import OrderedDict, deque
from typing import Any
from uuid import UUID

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


def invoice_event_types() -> tuple[type[Event], ...]:
    """Every event type of the ``Invoice`` aggregate: each one moves its version."""
    return tuple(
        value
        for value in vars(Invoice).values()
        if isinstance(value, type) and issubclass(value, Event)
    )


class _Folded:
    """An invoice folded to ``aggregate.version``, and the stored events read past it."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.aggregate: Invoice | None = None
        self.ahead: deque[Any] = deque()

    @property
    def version(self) -> int:
        return 0 if self.aggregate is None else self.aggregate.version


class InvoiceDocuments(Projection):
    """Every invoice's document, as ``invoice show --json`` prints it (without a day)."""

    name = "invoice_documents"
    tables = (DOCUMENTS,)

    def __init__(self) -> None:
        self.log: EventLog | None = None
        self._cache: OrderedDict[str, _Folded] = OrderedDict()

    def attach(self, log: EventLog) -> None:
        self.log = log
        self._cache.clear()

    def _changed(self, event: Event, position: int, view: ViewWriter) -> None:
        del position
        invoice = self._folded(id_text(event.originator_id), event.originator_version)
        view.put(
            DOCUMENTS,
            {
                "invoice_id": id_text(invoice.id),
                "number": invoice.number,
                "version": invoice.version,
                # ASCII only: a stored NUL (or any control character) stays an escape, which
                # both databases' text columns hold
                "document": json.dumps(invoice_doc(invoice), separators=(",", ":")),
            },
        )

    def _folded(self, key: str, version: int) -> Invoice:
        """The invoice ``key`` folded by the domain up to ``version``."""
        if self.log is None:
            raise RuntimeError(f"{self.name}: no event log attached to read invoices from")
        folded = self._cache.pop(key, None)
        if folded is None or folded.version > version:  # a batch applied again: fold anew
            folded = _Folded(key)
        self._cache[key] = folded
        if len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
        try:
            self._fold(folded, version)
        except Exception:  # an event the domain refuses may have left the fold half applied
            del self._cache[key]
            raise
        assert folded.aggregate is not None  # versions start at 1
        return folded.aggregate

    def _fold(self, folded: _Folded, version: int) -> None:
        assert self.log is not None
        mapper, key = self.log.mapper, folded.key
        while folded.version < version:
            if not folded.ahead:
                folded.ahead.extend(
                    self.log.recorder.select_events(UUID(key), gt=folded.version or None)
                )
                if not folded.ahead:  # the log always holds what it notified
                    raise LookupError(f"invoice {key} has no version {version} in the log")
            event: Event = mapper.to_domain_event(folded.ahead.popleft())  # type: ignore[assignment]
            folded.aggregate = event.mutate(folded.aggregate)

    for _kind in invoice_event_types():  # every invoice event moves its document's version
        _changed = on(_kind)(_changed)
    del _kind
