"""The relay against a 3-node JetStream cluster started here (nats-server processes in a
temporary folder, an R3 stream): the stream leader is killed while the relay publishes, and
every position is in the stream exactly once after the relay retried."""

from __future__ import annotations

import asyncio
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest

from adapters.config import build_ledger
from adapters.relay.publisher import Relay
from tests.helpers import customer, issued_invoice
from tests.relay.support import feed, read_stream, settings, unique_names

pytestmark = pytest.mark.skipif(
    shutil.which("nats-server") is None, reason="nats-server is not installed (make system-deps)"
)


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[dict[str, subprocess.Popen[bytes]]]:
    """Three nats-server processes with JetStream, routed to each other; by server name."""
    ports = _free_ports(6)
    client, routes = ports[:3], ports[3:]
    servers: dict[str, subprocess.Popen[bytes]] = {}
    for n in range(3):
        name = f"n{n}"
        others = ",".join(f"nats://127.0.0.1:{p}" for i, p in enumerate(routes) if i != n)
        log = (tmp_path / f"{name}.log").open("wb")
        servers[f"nats://127.0.0.1:{client[n]}"] = subprocess.Popen(
            [
                "nats-server",
                "-js",
                "-sd",
                str(tmp_path / name),
                "-n",
                name,
                "-a",
                "127.0.0.1",
                "-p",
                str(client[n]),
                "--cluster_name",
                "C",
                "--cluster",
                f"nats://127.0.0.1:{routes[n]}",
                "--routes",
                others,
            ],
            stdout=log,
            stderr=log,
        )
    try:
        asyncio.run(_ready(list(servers)))
        yield servers
    finally:
        for process in servers.values():
            process.kill()
            process.wait()


async def _ready(urls: list[str]) -> None:
    """Until the cluster's JetStream answers on every server (its meta leader is elected)."""
    deadline = time.monotonic() + 15
    for url in urls:
        while True:
            try:
                nc = await nats.connect(servers=[url], connect_timeout=1)
                try:
                    await nc.jetstream(timeout=1).account_info()
                    break
                finally:
                    await nc.close()
            except (TimeoutError, nats.errors.Error, OSError):
                assert time.monotonic() < deadline, "the JetStream cluster did not form"
                await asyncio.sleep(0.1)


def test_the_stream_leader_killed_while_the_relay_publishes_loses_and_repeats_nothing(
    cluster: dict[str, subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    urls = list(cluster)
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
            nc = await nats.connect(servers=urls)
            js = nc.jetstream(timeout=1)
            killed = ""
            deadline = time.monotonic() + 15
            while not killed and not task.done() and time.monotonic() < deadline:
                try:
                    info = await js.stream_info(stream)
                except nats.errors.Error:
                    await asyncio.sleep(0.01)
                    continue
                if info.state.messages >= 10 and info.cluster and info.cluster.leader:
                    killed = info.cluster.leader
                    url = urls[int(killed[1:])]
                    cluster[url].send_signal(signal.SIGKILL)
                await asyncio.sleep(0.005)
            await nc.close()
            await task
            return killed

        killed = asyncio.run(publish_while_the_leader_dies())
        assert killed, "the leader was never killed mid-publish"
        survivors = [u for u in urls if cluster[u].poll() is None]
        messages = read_stream(survivors, stream)
        assert [m.doc["position"] for m in messages] == expected
    finally:
        ledger.close()
