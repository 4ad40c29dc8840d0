"""Follows the notification log and publishes each event to JetStream, in position order,
one acknowledged publish at a time.

One at a time, because the stream is the relay's record of progress: it resumes after the
position in the stream's last message, which is only right if every earlier position was
stored before it. A failed publish (no ack: the stream leader is being re-elected, the
connection dropped) is retried with the same message id until the stream answers; before each
retry the relay asks the stream for its last position, so a message that was stored although
its ack was lost is never sent again, even outside the duplicate window.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import nats
import structlog
from nats.aio.client import Client
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.errors import APIError

from adapters.feed import Page, head_position, read_page
from adapters.ledger.application import Ledger
from adapters.relay import subjects
from adapters.relay.errors import RelayRefused, RelayUnavailable
from adapters.relay.stream import StreamSettings, ensure_stream, last_position
from domain.messaging import DEFAULT_TENANT

log = structlog.get_logger("tollbook.relay")
T = TypeVar("T")


@dataclass(frozen=True)
class RelaySettings:
    servers: list[str]
    tenant: str = DEFAULT_TENANT
    stream: StreamSettings = field(default_factory=StreamSettings)
    batch: int = 100  # events read from the log at a time
    interval: float = 0.5  # seconds between polls of the log when nothing is new
    publish_timeout: float = 2.0  # seconds an ack is awaited
    retry_for: float = 60.0  # seconds JetStream may stay unanswering before the relay gives up


@dataclass
class Report:
    published: int = 0  # messages the stream stored
    duplicates: int = 0  # re-publishes the stream acknowledged as duplicates
    position: int = 0  # the last position the stream holds


# What a publish or a stream request raises while the cluster cannot answer: a time-out,
# no responders (no stream leader), a JetStream API error 503, a dropped connection.
#: connection attempts per server before a relay that never connected gives up
FIRST_CONNECT_TRIES = 3

_ERRORS = (NatsError, asyncio.TimeoutError, OSError)


def _transient(error: BaseException) -> bool:
    """Worth retrying: the cluster may answer in a moment. A JetStream API error below 500
    (a stream config the server refuses, subjects overlapping another stream) never will."""
    if isinstance(error, APIError):
        return error.code is None or error.code >= 500
    return True


class Relay:
    def __init__(self, ledger: Ledger, settings: RelaySettings) -> None:
        self.ledger = ledger
        self.settings = settings

    async def run(self, *, once: bool = False, stopping: threading.Event | None = None) -> Report:
        """Publish every event after the stream's last; with ``once`` stop at the head the
        log had when the relay started (a steady writer would otherwise keep it going), else
        keep following until ``stopping`` is set, which is checked after every page."""
        nc = await self._connect()
        reading: asyncio.Task[Page] | None = None
        try:
            js = nc.jetstream(timeout=self.settings.publish_timeout)
            await self._retrying("create the stream", lambda: self._ensure(js))
            report = Report(position=await self._last(js))
            until = await asyncio.to_thread(head_position, self.ledger) if once else None
            log.info("relay resuming", tenant=self.settings.tenant, after=report.position)
            reading = self._read(report.position)
            while True:
                page = await reading
                if page.events:
                    # the next page is read while this one is published (one round trip each)
                    reading = self._read(page.next_after)
                    for doc in page.events:
                        await self._publish(js, doc, report)
                    if stopping is not None and stopping.is_set():
                        return report
                    if until is not None and report.position >= until:
                        return report
                    continue
                if once or (stopping is not None and stopping.is_set()):
                    return report
                await asyncio.sleep(self.settings.interval)
                reading = self._read(report.position)
        finally:
            if reading is not None and not reading.done():
                reading.cancel()
            await nc.close()

    def _read(self, after: int) -> asyncio.Task[Page]:
        return asyncio.ensure_future(
            asyncio.to_thread(read_page, self.ledger, after, self.settings.batch)
        )

    async def _connect(self) -> Client:
        servers = self.settings.servers
        failures = 0
        connected = False

        async def on_error(error: Exception) -> None:
            # nats-py retries a first connection forever when reconnecting is allowed; a
            # relay started against no NATS at all should say so, not wait in silence
            nonlocal failures
            log.warning("NATS connection error", error=repr(error))
            failures += 1
            if not connected and failures >= FIRST_CONNECT_TRIES * len(servers):
                raise RelayUnavailable(f"cannot connect to NATS at {', '.join(servers)}: {error}")

        try:
            nc = await nats.connect(
                servers=servers,
                connect_timeout=2,
                max_reconnect_attempts=-1,  # once connected, keep reconnecting
                reconnect_time_wait=0.2,
                allow_reconnect=True,
                error_cb=on_error,
            )
        except _ERRORS as error:
            where = ", ".join(servers)
            raise RelayUnavailable(f"cannot connect to NATS at {where}: {error}") from None
        connected = True
        return nc

    async def _ensure(self, js: JetStreamContext) -> None:
        await ensure_stream(js, self.settings.stream, self.settings.tenant)

    async def _last(self, js: JetStreamContext) -> int:
        name, tenant = self.settings.stream.name, self.settings.tenant
        return await self._retrying("read the stream", lambda: last_position(js, name, tenant))

    async def _publish(self, js: JetStreamContext, doc: dict[str, Any], report: Report) -> None:
        position, tenant = int(doc["position"]), self.settings.tenant
        context = {
            "position": position,
            "event_type": doc["type"],
            "aggregate_id": doc["aggregate_id"],
        }
        deadline = time.monotonic() + self.settings.retry_for
        while True:
            try:
                ack = await js.publish(
                    subjects.subject(tenant, doc["type"]),
                    json.dumps(doc, separators=(",", ":")).encode(),
                    stream=self.settings.stream.name,
                    headers=subjects.headers(tenant, doc),
                )
            except _ERRORS as error:
                _give_up_after(deadline, "publish", error)
                log.warning("publish not acknowledged; retrying", error=repr(error), **context)
                await asyncio.sleep(0.2)
                if await self._last(js) >= position:  # stored; only the ack was lost
                    log.info("published (ack lost, found in the stream)", **context)
                    report.published, report.position = report.published + 1, position
                    return
                continue
            if ack.duplicate:
                report.duplicates += 1
                log.info("duplicate dropped by JetStream", seq=ack.seq, **context)
            else:
                report.published += 1
                log.debug("published", seq=ack.seq, **context)
            report.position = position
            return

    async def _retrying(self, what: str, step: Callable[[], Awaitable[T]]) -> T:
        deadline = time.monotonic() + self.settings.retry_for
        while True:
            try:
                return await step()
            except _ERRORS as error:
                _give_up_after(deadline, what, error)
                log.warning("JetStream not answering; retrying", step=what, error=repr(error))
                await asyncio.sleep(0.2)


def _give_up_after(deadline: float, what: str, error: BaseException) -> None:
    if not _transient(error):
        raise RelayRefused(f"JetStream refused to {what}: {error}") from error
    if time.monotonic() >= deadline:
        raise RelayUnavailable(f"JetStream did not answer ({what}): {error!r}") from error
