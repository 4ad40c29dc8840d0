"""``/events``: the ordered billing event feed, paged, long-polled or streamed (SSE)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from adapters.feed import event_types, read_page, topics_for
from adapters.http.deps import Reader, Svc
from adapters.service.context import Services

#: Positions are 64-bit integers in both stores (SQLite INTEGER, PostgreSQL BIGINT).
MAX_POSITION = 2**63 - 1

router = APIRouter(tags=["events"])

MAX_LIMIT = 1000
HEARTBEAT_SECONDS = 15.0


def _topics(types: str | None) -> list[str]:
    return topics_for(types.split(",")) if types else []


# Waiting is done with asyncio.sleep, not in a worker thread: a hundred idle long-polls or
# streams must not use up the thread pool that the blocking ledger calls run in.


@router.get("/events")
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
        float, Query(ge=0, le=60, description="Long-poll: seconds to wait for a new event.")
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


@router.get("/events/types")
def feed_types(_: Reader) -> list[str]:
    """Every event type name the feed and webhooks can filter on."""
    return sorted(event_types())


@router.get(
    "/events/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
def stream(
    svc: Svc,
    _: Reader,
    after: Annotated[int, Query(ge=0, le=MAX_POSITION)] = 0,
    types: str | None = None,
    max_events: Annotated[
        int | None, Query(ge=1, description="Close the stream after this many events.")
    ] = None,
    last_event_id: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    """Server-Sent Events: ``id`` is the position, so a reconnecting client's
    ``Last-Event-ID`` resumes exactly after the last event it saw."""
    if last_event_id and last_event_id.isdigit():
        after = min(int(last_event_id), MAX_POSITION)
    return StreamingResponse(
        _events(svc, after, _topics(types), max_events),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


async def _events(
    svc: Services, after: int, topics: list[str], max_events: int | None
) -> AsyncIterator[str]:
    sent = 0
    quiet_since = time.monotonic()
    yield ": tollbook event stream\n\n"
    while not svc.stopping.is_set():
        page = await run_in_threadpool(read_page, svc.ledger, after, 100, topics)
        for doc in page.events:
            yield f"id: {doc['position']}\nevent: {doc['type']}\ndata: {json.dumps(doc)}\n\n"
            sent += 1
            if max_events is not None and sent >= max_events:
                return
        after = page.next_after
        if page.events:
            quiet_since = time.monotonic()
            continue
        if time.monotonic() - quiet_since > HEARTBEAT_SECONDS:
            quiet_since = time.monotonic()
            yield ": keep-alive\n\n"
        await asyncio.sleep(svc.poll_interval)
