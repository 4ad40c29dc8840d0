"""``/events``: the ordered billing event feed, paged, long-polled or streamed (SSE)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

import structlog
from fastapi import Depends, Header, Query, Request
from fastapi.sse import EventSourceResponse, ServerSentEvent
from starlette.concurrency import run_in_threadpool

from adapters.app.context import LONG_POLL_MAX_SECONDS, Services
from adapters.feed import event_types, read_page, topics_for
from adapters.http.deps import Reader, Svc
from adapters.http.documents import FeedPage, answers
from adapters.http.routing import Router

#: Positions are 64-bit integers in both stores (SQLite INTEGER, PostgreSQL BIGINT).
MAX_POSITION = 2**63 - 1

router = Router(tags=["events"])

MAX_LIMIT = 1000

log = structlog.get_logger("tollbook.http")


def _topics(types: str | None) -> list[str]:
    return topics_for(types.split(",")) if types else []


# Waiting is done with asyncio.sleep, not in a worker thread: a hundred idle long-polls or
# streams must not use up the thread pool that the blocking ledger calls run in.


@router.get("/events", **answers(FeedPage))
async def feed(
    svc: Svc,
    _: Reader,
    after: Annotated[
        int, Query(ge=0, le=MAX_POSITION, description="Last position already processed.")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    types: Annotated[
        str | None, Query(description="Comma-separated event types, e.g. Invoice.Issued.")
    ] = None,
    wait: Annotated[
        float,
        Query(
            ge=0,
            le=LONG_POLL_MAX_SECONDS,
            description="Long-poll: seconds to wait for a new event.",
        ),
    ] = 0,
) -> dict[str, Any]:
    """Events strictly after ``after``, oldest first. Resume with ``next_after``."""
    topics = _topics(types)
    deadline = time.monotonic() + min(wait, svc.max_wait)
    while True:
        page = await run_in_threadpool(read_page, svc.ledger, after, limit, topics)
        if page.events or time.monotonic() >= deadline or svc.stopping.is_set():
            return {"events": page.events, "next_after": page.next_after}
        await asyncio.sleep(svc.poll_interval)


@router.get("/events/types", **answers(list[str]))
def feed_types(_: Reader) -> list[str]:
    """Every event type name the feed and webhooks can filter on."""
    return sorted(event_types())


def _stream_topics(
    types: Annotated[
        str | None, Query(description="Comma-separated event types, e.g. Invoice.Issued.")
    ] = None,
) -> list[str]:
    # a dependency, so an unknown type is refused (422) before the stream's 200 is sent
    return _topics(types)


def _stream_start(
    after: Annotated[
        int, Query(ge=0, le=MAX_POSITION, description="Last position already processed.")
    ] = 0,
    last_event_id: Annotated[
        str | None,
        Header(description="The last `id` received; resumes after it (takes precedence)."),
    ] = None,
) -> int:
    if last_event_id and last_event_id.isdigit():
        return min(int(last_event_id), MAX_POSITION)
    return after


@router.get("/events/stream", response_class=EventSourceResponse)
async def stream(
    svc: Svc,
    _: Reader,
    request: Request,
    after: Annotated[int, Depends(_stream_start)],
    topics: Annotated[list[str], Depends(_stream_topics)],
    max_events: Annotated[
        int | None, Query(ge=1, description="Close the stream after this many events.")
    ] = None,
) -> AsyncIterator[ServerSentEvent]:
    """Server-Sent Events: ``id`` is the position, so a reconnecting client's
    ``Last-Event-ID`` resumes exactly after the last event it saw. FastAPI's SSE response
    writes the events and a keep-alive comment after 15 s without one."""
    sent, position = 0, after
    log.info("event stream opened", after=after)
    try:
        yield ServerSentEvent(comment="tollbook event stream")
        async for doc in _feed(svc, request, after, topics):
            yield ServerSentEvent(
                id=str(doc["position"]), event=doc["type"], raw_data=json.dumps(doc)
            )
            sent, position = sent + 1, doc["position"]
            if max_events is not None and sent >= max_events:
                return
    finally:
        # reached however the stream ends: max_events, shutdown, or the client going away
        # (the response is cancelled and so is this generator)
        log.info("event stream closed", sent=sent, position=position)


async def _feed(
    svc: Services, request: Request, after: int, topics: list[str]
) -> AsyncIterator[dict[str, Any]]:
    """The feed's events after ``after``, a page at a time, polling when there are none, until
    shutdown or the client goes away."""
    while not svc.stopping.is_set():
        page = await run_in_threadpool(read_page, svc.ledger, after, 100, topics)
        for doc in page.events:
            yield doc
        after = page.next_after
        if page.events:
            continue
        if await request.is_disconnected():
            return
        await asyncio.sleep(svc.poll_interval)
