"""Accounting exports as durable JetStream consumers (``TOLLBOOK_EVENT_SOURCE=jetstream``).

One durable consumer per connection, with ``max_ack_pending=1``: JetStream hands out the next
event only once the one before it is acknowledged, so however many workers (processes,
machines) read the consumer, one event of the connection is in flight at a time and events
are exported in stream order, which is position order. An export needs that total order, not
only per-aggregate order: an invoice needs its customer's contact, a payment or a credit note
its invoice, already in the remote system. A worker that dies mid-event leaves the message
unacknowledged; after ``ack_wait`` JetStream gives it to another worker, and still nothing
later. Remote APIs allow a few calls a second, so one in flight costs no throughput.

Exactly once: :meth:`Exporter.apply` records each outcome with the connection's position in
one transaction (and the remote side de-duplicates by the event's idempotency key); the
message is acknowledged only after that, and a redelivered one at or before the recorded
position is acknowledged without sending anything.
"""

from __future__ import annotations

import threading

import structlog

from adapters.accounting.exporter import Exporter
from adapters.relay.consumer import StreamReader, durable_name

log = structlog.get_logger("tollbook.export")

#: seconds before JetStream hands back an event whose export failed for a transient reason
RETRY_AFTER = 30.0


class ExportConsumer:
    def __init__(
        self, exporter: Exporter, reader: StreamReader, retry_after: float = RETRY_AFTER
    ) -> None:
        self.exporter = exporter
        self.reader = reader
        self.retry_after = retry_after
        self.durable = durable_name("export", exporter.name)

    def run_once(self) -> int:
        """Fetch and export at most one event; the number handled (0: none was waiting, or
        the remote system is unavailable and the event goes back for later)."""
        self.reader.subscribe(
            self.durable, after=self.exporter.store.position(self.exporter.name), max_ack_pending=1
        )
        handled = 0
        for item in self.reader.fetch(self.durable, 1):
            try:
                with self.reader.keep_alive(item):
                    report = self.exporter.apply(item.position)
            except Exception:
                log.exception("export of a stream event failed", position=item.position)
                self.reader.nak(item, delay=self.retry_after)
                continue
            if report.stopped:
                log.warning("export waits for the remote system", position=item.position)
                self.reader.nak(item, delay=self.retry_after)
                continue
            self.reader.ack([item])
            handled += 1
        return handled

    def run(self, stopping: threading.Event, idle: float = 0.5) -> None:
        """Export until ``stopping`` is set."""
        log.info("export consumer started", connection=self.exporter.name, consumer=self.durable)
        while not stopping.is_set():
            try:
                busy = self.run_once()
            except Exception:  # NATS or the database away: try again shortly
                log.exception("export consumer pass failed", connection=self.exporter.name)
                busy = 0
            if not busy:
                stopping.wait(idle)
        log.info("export consumer stopped", connection=self.exporter.name)
