"""The webhook delivery worker: queue new events per subscription, then deliver them.

- At least once: a delivery is marked delivered only after a 2xx answer; anything else (error
  status, refused connection, timeout) is retried with exponential back-off, and after
  ``max_attempts`` it is marked failed (``tollbook webhook retry`` puts it back).
- Ordered per aggregate: a delivery is never attempted while an earlier one of the same
  aggregate for the same subscription is still open (pending or failed).
- A failing endpoint never blocks the others: each subscription is served in its own thread, and
  a failed attempt ends only that subscription's pass. The endpoint then backs off as a whole:
  nothing more is sent to it until its failed delivery is due again (an endpoint that is down
  is not hammered once per queued event).
- Restart-safe: positions, queue and attempts are rows in the ledger's database; a subscription
  lease keeps two workers (e.g. two processes on PostgreSQL) off the same subscription.
- Two sources of events: the ledger's log, polled (the default), or, with ``stream`` set, a
  durable JetStream consumer per subscription (``TOLLBOOK_EVENT_SOURCE=jetstream``). Either way
  an event is queued once per subscription (a unique row per position, with the position
  moved in the same transaction), and a stream message is acknowledged only after that.
  Order per aggregate holds because only the lease holder fetches: JetStream hands it the
  subscription's messages in stream order, and its ``ack_wait`` is shorter than the lease, so
  a crashed holder's unacknowledged messages are due again (and redelivered first) before any
  other worker can take the lease.

``run_once()`` does one pass (tests call it); ``run(stop)`` repeats until ``stop`` is set.
Time and sleeping are injected, so tests control back-off without waiting.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from uuid import uuid4

import structlog

from adapters import metrics
from adapters.feed import read_page, topics_for
from adapters.ledger.application import Ledger
from adapters.relay.consumer import StreamReader, durable_name
from adapters.webhooks.sender import HttpSender, Outcome, Sender
from adapters.webhooks.store import Delivery, QueuedEvent, Subscription, WebhookStore

log = structlog.get_logger("tollbook.webhooks")


@dataclass(frozen=True)
class RetryPolicy:
    """Back-off doubles from ``base`` seconds up to ``cap``; gives up after ``max_attempts``."""

    base: float = 10.0
    cap: float = 3600.0
    max_attempts: int = 15

    def delay(self, attempts: int) -> float:
        """Wait after the ``attempts``-th failed attempt (1 -> base, 2 -> 2*base, ...)."""
        return float(min(self.cap, self.base * 2 ** (attempts - 1)))


@dataclass(frozen=True)
class PassReport:
    queued: int = 0
    delivered: int = 0
    failed_attempts: int = 0


@dataclass
class WebhookWorker:
    ledger: Ledger
    store: WebhookStore
    sender: Sender = field(default_factory=HttpSender)
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    now: Callable[[], float] = time.time
    batch_size: int = 200
    lease_seconds: float = 60.0
    max_parallel: int = 8
    worker_id: str = field(default_factory=lambda: f"worker-{uuid4().hex[:12]}")
    #: read events from this JetStream connection instead of polling the ledger's log
    stream: StreamReader | None = None

    def __post_init__(self) -> None:
        if self.stream is not None and self.stream.settings.ack_wait > self.lease_seconds / 2:
            raise ValueError(
                "the stream's ack_wait must be at most half the subscription lease,"
                " or a crashed worker's messages could come back after newer ones"
            )

    def run(self, stop: threading.Event, interval: float = 1.0) -> None:
        """Deliver until ``stop`` is set; one pass every ``interval`` seconds when idle."""
        log.info("webhook worker started", worker=self.worker_id)
        while not stop.is_set():
            try:
                report = self.run_once()
            except Exception:  # the worker must outlive a database hiccup
                log.exception("webhook pass failed", worker=self.worker_id)
                report = PassReport()
            busy = report.queued or report.delivered
            if not busy:
                stop.wait(interval)
        log.info("webhook worker stopped", worker=self.worker_id)

    def run_once(self) -> PassReport:
        """One pass over every active subscription: queue new events, deliver what is due."""
        subscriptions = self.store.subscriptions()
        if not subscriptions:
            return PassReport()
        workers = max(1, min(self.max_parallel, len(subscriptions)))
        with ThreadPoolExecutor(workers, thread_name_prefix="webhook") as pool:
            reports = list(pool.map(self._serve, subscriptions))
        return PassReport(
            queued=sum(r.queued for r in reports),
            delivered=sum(r.delivered for r in reports),
            failed_attempts=sum(r.failed_attempts for r in reports),
        )

    def _serve(self, subscription: Subscription) -> PassReport:
        if not self.store.claim(subscription.id, self.worker_id, self.now(), self.lease_seconds):
            return PassReport()  # another worker has it
        try:
            # re-read: the position may have moved since the list was taken
            # stop delivering well before the lease runs out, so no other worker can take the
            # subscription over mid-pass (that could reorder an aggregate's deliveries)
            deadline = self.now() + self.lease_seconds / 2
            current = self.store.subscription(subscription.id)
            queued = self._queue(current)
            delivered, failed = self._deliver(current, deadline)
            return PassReport(queued, delivered, failed)
        except Exception:
            log.exception("webhook subscription pass failed", subscription=subscription.id)
            return PassReport()
        finally:
            self.store.release(subscription.id, self.worker_id)

    def _queue(self, subscription: Subscription) -> int:
        """Copy events after the subscription's position into its delivery queue."""
        if self.stream is not None:
            return self._queue_from_stream(subscription, self.stream)
        topics = topics_for(subscription.event_types)
        page = read_page(self.ledger, subscription.position, self.batch_size, topics)
        if page.next_after == subscription.position:
            return 0
        queued = [
            QueuedEvent(
                position=doc["position"],
                event_id=doc["id"],
                event_type=doc["type"],
                aggregate_id=doc["aggregate_id"],
                body=json.dumps(doc, separators=(",", ":"), ensure_ascii=False),
            )
            for doc in page.events
        ]
        self.store.enqueue(subscription.id, queued, page.next_after, self.now())
        return len(queued)

    def _queue_from_stream(self, subscription: Subscription, stream: StreamReader) -> int:
        """The subscription's next messages from its durable consumer, queued in one
        transaction, then acknowledged. Messages at or before the subscription's position were
        queued before (a redelivery) or predate it; events of other types are skipped, but
        the position moves past them too."""
        durable = durable_name("webhooks", subscription.id)
        stream.subscribe(durable, after=subscription.position, max_ack_pending=self.batch_size)
        fetched = stream.fetch(durable, self.batch_size)
        if not fetched:
            return 0
        wanted = set(subscription.event_types)
        queued = [
            QueuedEvent(
                position=item.position,
                event_id=item.doc["id"],
                event_type=item.event_type,
                aggregate_id=item.doc["aggregate_id"],
                body=json.dumps(item.doc, separators=(",", ":"), ensure_ascii=False),
            )
            for item in fetched
            if item.position > subscription.position and (not wanted or item.event_type in wanted)
        ]
        newest = max(subscription.position, *(item.position for item in fetched))
        self.store.enqueue(subscription.id, queued, newest, self.now())
        stream.ack(fetched)
        log.debug(
            "queued from the stream",
            subscription=subscription.id,
            fetched=len(fetched),
            queued=len(queued),
            position=newest,
        )
        return len(queued)

    def _deliver(self, subscription: Subscription, deadline: float) -> tuple[int, int]:
        delivered = failed = 0
        blocked: set[str] = set()
        open_deliveries = self.store.open_deliveries(subscription.id)
        now = self.now()
        if any(
            d.status == "pending" and d.attempts and d.next_attempt_at > now
            for d in open_deliveries
        ):
            # the endpoint is backing off after a failure: leave it alone until that retry
            return 0, 0
        for delivery in open_deliveries:
            if self.now() > deadline:
                break
            if delivery.aggregate_id in blocked:
                continue
            if delivery.status == "failed" or delivery.next_attempt_at > self.now():
                # an earlier event of this aggregate is still open: later ones wait for it
                blocked.add(delivery.aggregate_id)
                continue
            if self._attempt(subscription, delivery):
                delivered += 1
                continue
            failed += 1
            # the endpoint is failing: leave the rest of this subscription for a later pass
            break
        return delivered, failed

    def _attempt(self, subscription: Subscription, delivery: Delivery) -> bool:
        started = self.now()
        outcome: Outcome = self.sender.send(subscription, delivery, int(started))
        finished = self.now()
        duration_ms = max(0, int((finished - started) * 1000))
        attempts = delivery.attempts + 1
        context = {
            "subscription": subscription.id,
            "delivery": delivery.id,
            "aggregate_id": delivery.aggregate_id,
            "domain_event": delivery.event_type,
            "position": delivery.position,
            "attempt": attempts,
        }
        if outcome.ok:
            self.store.record_attempt(
                delivery,
                at=finished,
                status_code=outcome.status_code,
                error=None,
                duration_ms=duration_ms,
                outcome="delivered",
                next_attempt_at=finished,
            )
            log.info("webhook delivered", status=outcome.status_code, **context)
            metrics.WEBHOOK_ATTEMPTS.labels(subscription.id, "delivered").inc()
            return True
        gave_up = attempts >= self.policy.max_attempts
        metrics.WEBHOOK_ATTEMPTS.labels(subscription.id, "gave_up" if gave_up else "retrying").inc()
        self.store.record_attempt(
            delivery,
            at=finished,
            status_code=outcome.status_code,
            error=outcome.error,
            duration_ms=duration_ms,
            outcome="failed" if gave_up else "pending",
            next_attempt_at=finished + self.policy.delay(attempts),
        )
        log.warning(
            "webhook gave up" if gave_up else "webhook attempt failed",
            status=outcome.status_code,
            error=outcome.error,
            **context,
        )
        return False
