"""Durable JetStream pull consumers for tollbook's own readers of the stream (webhook delivery,
accounting exports), with a synchronous face for their thread-based workers.

The consumer is only a cursor. What decides whether an event was handled is the reader's own
record in the ledger's database (a webhook subscription's queue, an export connection's
position and done-rows), written before the message is acknowledged: a message redelivered
after a crash or a lost ack meets that record and is acknowledged without doing anything
again. Because of that a consumer can be lost (deleted, expired) and made again: it is created
to start just after the reader's recorded position.

Each :class:`StreamReader` holds one NATS connection and runs its event loop in a thread of
its own; its methods block the calling thread until NATS answers.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import threading
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import nats
import structlog
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from adapters.relay import subjects
from adapters.relay.errors import RelayUnavailable
from domain.messaging import DEFAULT_TENANT

log = structlog.get_logger("tollbook.consumer")
T = TypeVar("T")

#: what a fetch, an ack or a consumer request raises while the cluster cannot answer
ERRORS = (NatsError, asyncio.TimeoutError, OSError)
#: a consumer no worker has fetched from for this long is deleted by JetStream; the next worker
#: makes it again from the reader's recorded position (nothing depends on it surviving)
INACTIVE_SECONDS = 7 * 24 * 3600.0


@dataclass(frozen=True)
class ConsumerSettings:
    servers: list[str]
    stream: str = "TOLLBOOK"
    tenant: str = DEFAULT_TENANT
    #: seconds JetStream waits for an ack before handing the message to another worker; a
    #: worker still busy with a message says so every third of it (``keep_alive``)
    ack_wait: float = 30.0
    fetch_timeout: float = 1.0  # seconds a fetch waits for messages when there are none
    request_timeout: float = 2.0


@dataclass(frozen=True)
class Delivered:
    """One message of the stream as a reader sees it."""

    position: int
    event_type: str
    doc: dict[str, Any]
    msg: Msg = field(repr=False, compare=False)
    redelivered: bool = False


def durable_name(kind: str, key: str) -> str:
    """A consumer name for one reader (``webhooks`` + subscription id, ``export`` + connection
    name): only characters JetStream allows in a name, unique by a hash of the key."""
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", key)[:40]
    digest = hashlib.sha256(key.encode()).hexdigest()[:10]
    return f"tollbook-{kind}-{safe}-{digest}"


class StreamReader:
    """One NATS connection, shared by the durable consumers a worker process reads."""

    def __init__(self, settings: ConsumerSettings) -> None:
        self.settings = settings
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._subs: dict[str, JetStreamContext.PullSubscription] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ plumbing

    def _call(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return future.result(timeout)

    def connect(self) -> None:
        if self._nc is None:
            self._nc = self._call(self._connect())
            self._js = self._nc.jetstream(timeout=self.settings.request_timeout)

    async def _connect(self) -> Client:
        servers = self.settings.servers
        try:
            return await nats.connect(
                servers=servers,
                connect_timeout=2,
                max_reconnect_attempts=-1,
                reconnect_time_wait=0.2,
                allow_reconnect=True,
                error_cb=_log_error,
            )
        except ERRORS as error:
            raise RelayUnavailable(
                f"cannot connect to NATS at {', '.join(servers)}: {error}"
            ) from None

    def close(self) -> None:
        if self._nc is not None:
            try:
                self._call(self._nc.close(), timeout=5)
            except (*ERRORS, TimeoutError):  # closing a connection NATS already dropped
                pass
            self._nc = None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    # ----------------------------------------------------------------- consumers

    def subscribe(self, durable: str, *, after: int, max_ack_pending: int) -> None:
        """Bind to the durable consumer ``durable``, creating it (starting just after position
        ``after`` of this tenant) when it does not exist yet."""
        with self._lock:
            if durable in self._subs:
                return
            self.connect()
            self._subs[durable] = self._call(self._subscribe(durable, after, max_ack_pending))

    async def _subscribe(
        self, durable: str, after: int, max_ack_pending: int
    ) -> JetStreamContext.PullSubscription:
        js = self._require_js()
        stream = self.settings.stream
        try:
            await js.consumer_info(stream, durable)
        except NotFoundError:
            start = await first_sequence_after(js, stream, self.settings.tenant, after)
            config = ConsumerConfig(
                durable_name=durable,
                filter_subject=subjects.tenant_subjects(self.settings.tenant),
                ack_policy=AckPolicy.EXPLICIT,
                ack_wait=self.settings.ack_wait,
                max_ack_pending=max_ack_pending,
                inactive_threshold=INACTIVE_SECONDS,
                deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
                opt_start_seq=start,
            )
            await js.add_consumer(stream, config)
            log.info("consumer created", consumer=durable, stream=stream, after=after, seq=start)
        return await js.pull_subscribe_bind(durable, stream)

    def _require_js(self) -> JetStreamContext:
        if self._js is None:
            raise RuntimeError("StreamReader.connect() first")
        return self._js

    def fetch(self, durable: str, batch: int) -> list[Delivered]:
        """Up to ``batch`` messages (none when the fetch timed out or NATS is away: the caller
        just tries again; NATS reconnects by itself)."""
        sub = self._subs[durable]
        try:
            messages = self._call(sub.fetch(batch, timeout=self.settings.fetch_timeout))
        except ERRORS as error:
            if not isinstance(error, asyncio.TimeoutError | nats.errors.TimeoutError):
                log.warning("fetch failed; retrying", consumer=durable, error=repr(error))
            return []
        return [_delivered(msg) for msg in messages]

    def ack(self, items: list[Delivered]) -> None:
        """Acknowledge after the reader recorded what it did. An ack lost on the way only means
        a redelivery, which the reader's record turns into nothing.

        The last ack waits for JetStream's answer (the ones before it travel on the same
        connection, so they were taken first): the next fetch, by this worker or another,
        then finds the consumer already past them instead of waiting out its time-out."""
        for n, item in enumerate(items, start=1):
            try:
                if n < len(items):
                    self._call(item.msg.ack())
                else:
                    self._call(item.msg.ack_sync(timeout=self.settings.request_timeout))
            except ERRORS as error:
                log.warning("ack lost", position=item.position, error=repr(error))

    def nak(self, item: Delivered, delay: float) -> None:
        """Hand the message back, to be delivered again in ``delay`` seconds."""
        try:
            self._call(item.msg.nak(delay=delay))
        except ERRORS as error:  # unanswered: it comes back after ack_wait all the same
            log.warning("nak lost", position=item.position, error=repr(error))

    @contextmanager
    def keep_alive(self, item: Delivered) -> Iterator[None]:
        """While the body runs, tell JetStream every third of ``ack_wait`` that the message is
        still being worked on, so a slow remote system never gets it sent twice at once."""
        done = threading.Event()

        def beat() -> None:
            while not done.wait(self.settings.ack_wait / 3):
                try:
                    self._call(item.msg.in_progress(), timeout=self.settings.request_timeout)
                except (*ERRORS, TimeoutError) as error:
                    log.warning("in-progress not sent", position=item.position, error=repr(error))

        beater = threading.Thread(target=beat, daemon=True)
        beater.start()
        try:
            yield
        finally:
            done.set()
            beater.join()


async def first_sequence_after(js: JetStreamContext, stream: str, tenant: str, after: int) -> int:
    """The stream sequence of the tenant's first message with a position after ``after``
    (when there is none yet: the sequence the next message will get). A binary search with
    'the subject's next message at or after sequence n', whose positions only grow."""
    wanted = subjects.tenant_subjects(tenant)

    async def at_or_after(seq: int) -> tuple[int, int] | None:
        try:
            raw = await js.get_msg(stream, seq, subject=wanted, next=True)
        except NotFoundError:
            return None
        return int(raw.seq or 0), int((raw.headers or {}).get(subjects.POSITION, "0"))

    info = await js.stream_info(stream)
    low, high = max(1, info.state.first_seq), info.state.last_seq
    found = info.state.last_seq + 1
    while low <= high:
        middle = (low + high) // 2
        hit = await at_or_after(middle)
        if hit is None:
            high = middle - 1
            continue
        seq, position = hit
        if position > after:
            found, high = seq, middle - 1
        else:
            low = seq + 1
    return found


def _delivered(msg: Msg) -> Delivered:
    headers = msg.headers or {}
    doc = json.loads(msg.data)
    position = int(headers.get(subjects.POSITION) or doc["position"])
    redelivered = msg.metadata.num_delivered > 1 if msg.metadata else False
    return Delivered(
        position, str(headers.get(subjects.TYPE) or doc["type"]), doc, msg, redelivered
    )


async def _log_error(error: Exception) -> None:
    log.warning("NATS connection error", error=repr(error))
