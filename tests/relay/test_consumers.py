"""Webhook delivery and accounting exports reading the relay's stream through durable
JetStream consumers (the machine's NATS): a worker that dies after the side effect and before
its ack, or before the side effect is recorded, hands its message to the next worker, and the
position and idempotency records keep every event to one delivery and one export."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import nats
import pytest

from adapters.accounting.consumer import ExportConsumer
from adapters.accounting.exporter import Exporter
from adapters.accounting.factory import client_for, policy_for
from adapters.accounting.store import ExportStore
from adapters.config import build_ledger
from adapters.ledger.application import Ledger
from adapters.relay import subjects
from adapters.relay.consumer import ConsumerSettings, StreamReader, first_sequence_after
from adapters.relay.publisher import Relay
from adapters.store.database import Database
from adapters.webhooks.destinations import ALLOW_ENV
from adapters.webhooks.store import QueuedEvent, WebhookStore
from adapters.webhooks.worker import WebhookWorker
from tests.fakes import views
from tests.fakes.server import FakeClock
from tests.fakes.xero import FakeXero
from tests.helpers import customer, issued_invoice
from tests.integration.accounting.helpers import connection_to
from tests.relay.support import LOCAL_NATS, Receiver, feed, settings

ACK_WAIT = 0.5  # seconds: how soon a dead worker's message goes to the next one


class Crash(BaseException):
    """The worker process dies here."""


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/tollbook.sqlite"


@pytest.fixture
def published(url: str, local_stream: tuple[str, str]) -> Iterator[tuple[Ledger, list[str]]]:
    """A ledger with three issued invoices, every event of it on the stream."""
    stream, tenant = local_stream
    ledger = build_ledger(url)
    customer(ledger, "ACME")
    numbers = [issued_invoice(ledger, "ACME", f"{10 + n}.00") for n in range(3)]
    asyncio.run(Relay(ledger, settings([LOCAL_NATS], stream, tenant)).run(once=True))
    yield ledger, numbers
    ledger.close()


@pytest.fixture
def readers(local_stream: tuple[str, str]) -> Iterator[Callable[[], StreamReader]]:
    stream, tenant = local_stream
    made: list[StreamReader] = []

    def make() -> StreamReader:
        made.append(StreamReader(ConsumerSettings([LOCAL_NATS], stream, tenant, ACK_WAIT, 0.1)))
        return made[-1]

    yield make
    for reader in made:
        reader.close()


def _until(done: Callable[[], bool], step: Callable[[], object], within: float = 5) -> None:
    deadline = time.monotonic() + within
    while not done():
        assert time.monotonic() < deadline, "never caught up"
        step()


class Dying(WebhookStore):
    """The worker's process dies as it queues the events it fetched: before its queue rows
    commit, or right after (before any ack)."""

    def __init__(self, db: Database, committed: bool) -> None:
        super().__init__(db)
        self.committed = committed

    def enqueue(
        self, subscription_id: str, events: Sequence[QueuedEvent], new_position: int, now: float
    ) -> None:
        if self.committed:
            super().enqueue(subscription_id, events, new_position, now)
        raise Crash


@pytest.mark.parametrize("committed", [False, True], ids=["before-commit", "after-commit"])
def test_a_webhook_worker_dying_as_it_queues_loses_and_repeats_nothing(
    published: tuple[Ledger, list[str]],
    url: str,
    readers: Callable[[], StreamReader],
    monkeypatch: pytest.MonkeyPatch,
    committed: bool,
) -> None:
    ledger, _ = published
    monkeypatch.setenv(ALLOW_ENV, "127.0.0.1/32")
    receiver = Receiver()
    try:
        db = Database.from_url(url)
        store = WebhookStore(db)
        store.ensure_schema()
        docs = feed(ledger)
        # subscribed after the first invoice: earlier events are never sent
        since = next(d["position"] for d in docs if d["type"] == "Invoice.Issued")
        store.add(receiver.url, "whsec_consumer_test_secret", [], since, "test")
        dying = WebhookWorker(ledger, Dying(db, committed), lease_seconds=1, stream=readers())
        with pytest.raises(Crash):
            dying.run_once()
        assert receiver.bodies == []

        worker = WebhookWorker(ledger, store, lease_seconds=1, stream=readers())
        expected = [d["position"] for d in docs if d["position"] > since]
        _until(lambda: len(receiver.bodies) >= len(expected), worker.run_once)
        time.sleep(ACK_WAIT * 2)  # the dead worker's messages come back: nothing more is sent
        worker.run_once()
    finally:
        receiver.stop()
    assert receiver.positions() == expected
    assert [b["id"] for b in receiver.bodies] == [d["id"] for d in docs if d["position"] > since]


def test_an_export_worker_dying_between_send_and_record_exports_each_invoice_once(
    published: tuple[Ledger, list[str]], url: str, readers: Callable[[], StreamReader]
) -> None:
    ledger, numbers = published
    clock = FakeClock()
    xero = FakeXero(clock)
    xero.start()
    try:
        connection = connection_to(xero)

        def exporter() -> Exporter:
            policy = policy_for(connection, sleep=clock.sleep, clock=clock)
            store = ExportStore(Database.from_url(url))
            return Exporter(ledger, store, connection, client_for(connection, policy))

        dying = exporter()

        def crash_on_the_second_invoice(item: object) -> None:
            if getattr(item, "label", "") == numbers[1]:
                raise Crash

        dying.after_send = crash_on_the_second_invoice
        first = ExportConsumer(dying, readers(), retry_after=0.1)
        with pytest.raises(Crash):
            while True:
                first.run_once()
        assert sorted(views.invoices(xero)) == numbers[:2]  # sent, never recorded

        survivor = ExportConsumer(exporter(), readers(), retry_after=0.1)
        store = survivor.exporter.store
        last = max(d["position"] for d in feed(ledger) if d["type"] == "Invoice.Issued")
        _until(lambda: store.position("xero") == last, survivor.run_once)
    finally:
        xero.stop()
    assert sorted(views.invoices(xero)) == numbers  # one of each
    keys = [r.headers["idempotency-key"] for r in xero.requests if "/Invoices" in r.path]
    assert len(keys) == 4 and len(set(keys)) == 3  # the one re-send carried the same key
    assert xero.spec_violations == []


def test_a_new_consumer_starts_right_after_the_recorded_position_among_other_tenants(
    local_stream: tuple[str, str],
) -> None:
    """Two tenants' messages interleaved in one stream, positions with gaps: for every
    position, the sequence found is that of the tenant's first message after it."""
    stream, tenant = local_stream
    other = f"{tenant}-b"

    async def run() -> tuple[list[tuple[int, str, int]], dict[int, int]]:
        nc = await nats.connect(servers=[LOCAL_NATS])
        try:
            js = nc.jetstream()
            await js.add_stream(
                name=stream, subjects=[f"tollbook.{tenant}.>", f"tollbook.{other}.>"]
            )
            stored = []
            order = [(other, 1), (tenant, 2), (tenant, 5), (other, 2), (other, 3), (tenant, 9)]
            order += [(tenant, 10), (other, 7), (tenant, 14)]
            for n, (label, position) in enumerate(order):
                doc = {"position": position, "type": "Customer.Registered"}
                ack = await js.publish(
                    subjects.subject(label, doc["type"]),
                    json.dumps(doc).encode(),
                    headers=subjects.headers(label, doc),
                )
                stored.append((ack.seq, label, position))
                assert ack.seq == n + 1
            found = {
                after: await first_sequence_after(js, stream, tenant, after)
                for after in range(0, 16)
            }
            return stored, found
        finally:
            await nc.close()

    stored, found = asyncio.run(run())
    for after, seq in found.items():
        mine = [s for s, label, p in stored if label == tenant and p > after]
        assert seq == (mine[0] if mine else len(stored) + 1), after
