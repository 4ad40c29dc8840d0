"""The relay against a 3-node JetStream cluster started here (nats-server processes in a
temporary folder, an R3 stream): the stream leader is killed while the relay publishes, and
every position is in the stream exactly once after the relay retried."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nats
import pytest

from adapters.accounting.consumer import ExportConsumer
from adapters.accounting.exporter import Exporter
from adapters.accounting.factory import client_for, policy_for
from adapters.accounting.store import ExportStore
from adapters.config import build_ledger
from adapters.relay.consumer import ConsumerSettings, StreamReader
from adapters.relay.publisher import Relay
from adapters.store.database import Database
from adapters.webhooks.destinations import ALLOW_ENV
from adapters.webhooks.store import WebhookStore
from adapters.webhooks.worker import WebhookWorker
from tests.fakes import views
from tests.fakes.server import FakeClock
from tests.fakes.xero import FakeXero
from tests.helpers import customer, issued_invoice
from tests.integration.accounting.helpers import connection_to
from tests.relay.cluster import Cluster, kill_leader_when
from tests.relay.support import Receiver, feed, read_stream, settings, unique_names


def test_the_stream_leader_killed_while_the_relay_publishes_loses_and_repeats_nothing(
    cluster: Cluster, tmp_path: Path
) -> None:
    urls = cluster.urls
    stream, tenant = unique_names()
    ledger = build_ledger(f"sqlite:///{tmp_path}/tollbook.sqlite")
    try:
        customer(ledger, "ACME")
        for n in range(60):
            issued_invoice(ledger, "ACME", f"{10 + n}.00")
        expected = [doc["position"] for doc in feed(ledger)]
        relay = Relay(ledger, settings(urls, stream, tenant, replicas=3))

        async def publish_while_the_leader_dies() -> str:
            task = asyncio.create_task(relay.run(once=True))
            killed = await kill_leader_when(cluster, stream, 10, within=15)
            await task
            return killed

        killed = asyncio.run(publish_while_the_leader_dies())
        assert killed, "the leader was never killed mid-publish"
        messages = read_stream(cluster.alive(), stream)
        assert [m.doc["position"] for m in messages] == expected
    finally:
        ledger.close()


TOLLBOOK = str(Path(sys.executable).with_name("tollbook"))


def _wait_for(done: Callable[[], bool], within: float, state: Callable[[], object]) -> None:
    deadline = time.monotonic() + within
    while not done():
        assert time.monotonic() < deadline, f"the consumers never caught up: {state()}"
        time.sleep(0.05)


def test_the_leader_killed_while_consumers_consume_delivers_and_exports_each_event_once(
    cluster: Cluster, pg_schema_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The relay publishes and two webhook workers and two export workers (each pair sharing
    one durable consumer) consume while the stream's leader is SIGKILLed."""
    monkeypatch.setenv(ALLOW_ENV, "127.0.0.1/32")
    stream, tenant = unique_names()
    ledger = build_ledger(pg_schema_url)
    db = Database.from_url(pg_schema_url)
    webhooks = WebhookStore(db)
    webhooks.ensure_schema()
    receiver = Receiver()
    remote_clock = FakeClock()  # the remote's rate limits advance it, never sleep
    xero = FakeXero(remote_clock)
    xero.start()
    stop = threading.Event()
    readers: list[StreamReader] = []
    threads: list[threading.Thread] = []

    def reader() -> StreamReader:
        readers.append(
            StreamReader(ConsumerSettings(cluster.urls, stream, tenant, 2.0, fetch_timeout=0.2))
        )
        return readers[-1]

    def spawn(target: Callable[..., None], *args: Any) -> None:
        threads.append(threading.Thread(target=target, args=args, daemon=True))
        threads[-1].start()

    try:
        webhooks.add(receiver.url, "whsec_cluster_test_secret", [], 0, "test")
        customer(ledger, "ACME")
        numbers = [issued_invoice(ledger, "ACME", f"{10 + n}.00") for n in range(12)]
        expected = [doc["position"] for doc in feed(ledger)]
        last_issued = max(d["position"] for d in feed(ledger) if d["type"] == "Invoice.Issued")
        relay = Relay(ledger, settings(cluster.urls, stream, tenant, replicas=3))
        spawn(lambda: asyncio.run(relay.run(stopping=stop)))
        for _ in range(2):
            worker = WebhookWorker(ledger, webhooks, lease_seconds=4.0, stream=reader())
            spawn(worker.run, stop, 0.05)
            connection = connection_to(xero)
            exporter = Exporter(
                ledger,
                ExportStore(Database.from_url(pg_schema_url)),
                connection,
                client_for(
                    connection,
                    policy_for(connection, sleep=remote_clock.sleep, clock=remote_clock),
                ),
            )
            spawn(ExportConsumer(exporter, reader(), retry_after=0.2).run, stop, 0.05)

        killed = asyncio.run(kill_leader_when(cluster, stream, 15, within=15))
        assert killed, "the leader was never killed while the consumers ran"
        store = ExportStore(db)
        _wait_for(
            lambda: len(receiver.bodies) >= len(expected) and store.position("xero") == last_issued,
            within=20,
            state=lambda: (
                len(receiver.bodies),
                len(expected),
                store.position("xero"),
                last_issued,
            ),
        )
        time.sleep(0.3)  # anything delivered twice would arrive now
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)
        for each in readers:
            each.close()
        receiver.stop()
        xero.stop()
        ledger.close()

    assert receiver.positions() == expected  # each once, in order
    assert sorted(views.invoices(xero)) == sorted(numbers)
    sent = [r for r in xero.requests if r.method in ("PUT", "POST") and "/Invoices" in r.path]
    assert len(sent) == len(numbers)  # never sent again, not even with the same key
    assert len(store.done_keys("xero")) == len(numbers) + 1  # and the customer's contact


def test_a_relay_process_killed_mid_batch_and_restarted_publishes_each_event_once(
    cluster: Cluster, tmp_path: Path
) -> None:
    """A real ``kill -9`` of ``tollbook relay`` while it publishes to the R3 stream, then a
    restart: every position in the stream once, in order."""
    stream, tenant = unique_names()
    url = f"sqlite:///{tmp_path}/tollbook.sqlite"
    ledger = build_ledger(url)
    try:
        customer(ledger, "ACME")
        # ~1,000 events: the relay publishes a few thousand a second, and each look at the
        # stream below takes a connection; 200 events were sometimes all out before the kill
        for n in range(200):
            issued_invoice(ledger, "ACME", f"{10 + n}.00")
        expected = [doc["position"] for doc in feed(ledger)]
    finally:
        ledger.close()
    command = [
        TOLLBOOK,
        "--db",
        url,
        "relay",
        "--nats",
        ",".join(cluster.urls),
        "--stream",
        stream,
        "--tenant",
        tenant,
        "--replicas",
        "3",
    ]
    relay = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 15
        held = 0
        while held < 20:
            assert relay.poll() is None, "the relay ended before it was killed"
            assert time.monotonic() < deadline, "the relay never got going"
            time.sleep(0.02)
            held = _held(cluster, stream)
        relay.send_signal(signal.SIGKILL)  # kill -9: no clean-up of any kind
        relay.wait()
    finally:
        if relay.poll() is None:
            relay.kill()
    assert held < len(expected), "the relay finished before it was killed"

    again = subprocess.run([*command, "--once"], capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stderr

    assert [m.doc["position"] for m in read_stream(cluster.urls, stream)] == expected


def _held(cluster: Cluster, stream: str) -> int:
    """How many messages the stream holds (0 while it is missing or electing its leader)."""

    async def ask() -> int:
        nc = await nats.connect(servers=cluster.urls)
        try:
            return int((await nc.jetstream(timeout=0.5).stream_info(stream)).state.messages)
        except (TimeoutError, nats.errors.Error):
            return 0
        finally:
            await nc.close()

    return asyncio.run(ask())
