"""What the relay tests share: a unique stream per test on the machine's NATS, and reading a
stream back message by message (what any consumer would see)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import nats
from nats.js import JetStreamContext

from adapters.feed import read_page
from adapters.ledger.application import Ledger
from adapters.relay.publisher import RelaySettings
from adapters.relay.stream import StreamSettings

LOCAL_NATS = "nats://127.0.0.1:4222"


@dataclass(frozen=True)
class Stored:
    seq: int
    subject: str
    headers: dict[str, str]
    doc: dict[str, Any]


def unique_names() -> tuple[str, str]:
    """A stream and a tenant no other test uses (streams may not share subjects)."""
    tag = uuid.uuid4().hex[:12]
    return f"TEST_{tag}", f"t{tag}"


def settings(
    servers: list[str], stream: str, tenant: str, *, replicas: int = 1, window: float = 120
) -> RelaySettings:
    return RelaySettings(
        servers,
        tenant,
        StreamSettings(stream, replicas, window),
        interval=0.05,
        publish_timeout=1.0,
        retry_for=15.0,
    )


async def stored(js: JetStreamContext, stream: str) -> list[Stored]:
    """Every message of the stream, in stream order."""
    info = await js.stream_info(stream)
    messages = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        raw = await js.get_msg(stream, seq)
        assert raw.subject is not None and raw.data is not None
        messages.append(Stored(seq, raw.subject, dict(raw.headers or {}), json.loads(raw.data)))
    return messages


def feed(ledger: Ledger) -> list[dict[str, Any]]:
    """Every published event of the ledger, as ``GET /events`` lists them."""
    return read_page(ledger, 0, 100_000).events


def read_stream(servers: list[str], stream: str, *, within: float = 30.0) -> list[Stored]:
    """The whole stream, read the way a client must after a node died: while the cluster elects
    the stream's new leader a request may go unanswered (a timeout, or no responders), so the
    read is retried until ``within`` seconds have passed."""

    async def read() -> list[Stored]:
        deadline = time.monotonic() + within
        nc = await nats.connect(servers=servers)
        try:
            while True:
                try:
                    return await stored(nc.jetstream(), stream)
                except (nats.errors.TimeoutError, nats.errors.NoRespondersError,
                        nats.js.errors.ServiceUnavailableError):  # fmt: skip
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.5)
        finally:
            await nc.close()

    return asyncio.run(read())


def delete_stream(servers: list[str], stream: str) -> None:
    async def delete() -> None:
        nc = await nats.connect(servers=servers)
        try:
            await nc.jetstream().delete_stream(stream)
        except nats.js.errors.NotFoundError:
            pass
        finally:
            await nc.close()

    asyncio.run(delete())


class Receiver:
    """A webhook endpoint on 127.0.0.1 that answers 204 and keeps every body it was sent."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        lock = threading.Lock()
        bodies = self.bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with lock:
                    bodies.append(json.loads(body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def positions(self) -> list[int]:
        return [int(body["position"]) for body in list(self.bodies)]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
