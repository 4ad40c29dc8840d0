"""The integrators' event feed: the notification log as ordered, self-describing JSON envelopes.

One envelope per stored event, shared by ``GET /events``, the Server-Sent Events stream and
webhook deliveries, so an integrator parses the same document whichever way it arrives.
Positions are the store's notification ids: increasing, possibly with gaps, so a consumer always
resumes *after* the last position it processed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.utils import get_topic

from adapters.event_catalogue import aggregates, events_of
from adapters.ledger.application import Ledger
from adapters.views import event_doc
from domain.aggregate import Event
from domain.errors import InvalidInput
from domain.idempotency import IdempotencyKey

# Fixed namespace: the same (aggregate, version) gives the same event id on every server.
EVENT_ID_NAMESPACE = UUID("6f6b1c1e-8d52-5a53-9a55-7d3f0c6f1b00")


def event_id(aggregate_id: UUID, version: int) -> UUID:
    """A stable id for one event: an aggregate never has two events with the same version."""
    return uuid5(EVENT_ID_NAMESPACE, f"{aggregate_id}:{version}")


def envelope(position: int, event: Event) -> dict[str, Any]:
    """The feed's document for one event (see docs/integrators.md)."""
    doc = event_doc(event)
    return {
        "position": position,
        "id": str(event_id(event.originator_id, event.originator_version)),
        "type": doc["type"],
        "aggregate_type": doc["type"].split(".")[0],
        "aggregate_id": doc["aggregate_id"],
        "aggregate_version": doc["version"],
        "time": doc["timestamp"],
        "actor": doc["actor"],
        "reason": doc["reason"],
        "payload": doc["data"],
    }


def event_types() -> dict[str, str]:
    """Every event type name integrators can filter on (``Invoice.Issued``) -> stored topic.

    Idempotency-Key records are the API's own bookkeeping (which request caused which
    events), not billing facts: they are not published, and their positions are gaps."""
    return {
        f"{aggregate.__name__}.{event.__name__}": get_topic(event)
        for aggregate in aggregates()
        if aggregate is not IdempotencyKey
        for event in events_of(aggregate)
    }


@cache
def _published_topics() -> tuple[str, ...]:
    return tuple(event_types().values())


def topics_for(types: Iterable[str]) -> list[str]:
    """Stored topics for type names; an unknown name is refused, never silently ignored."""
    known = event_types()
    wanted = [name.strip() for name in types if name.strip()]
    unknown = [name for name in wanted if name not in known]
    if unknown:
        raise InvalidInput(
            f"unknown event type(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    return [known[name] for name in wanted]


@dataclass(frozen=True)
class Page:
    events: list[dict[str, Any]]
    # where to resume: the last position read, or ``after`` itself when nothing was new
    next_after: int


def read_page(ledger: Ledger, after: int, limit: int, topics: Sequence[str] = ()) -> Page:
    """Up to ``limit`` events strictly after ``after``, oldest first."""
    if after < 0:
        raise InvalidInput("after must be a position >= 0")
    if limit < 1:
        raise InvalidInput("limit must be at least 1")
    notifications = ledger.recorder.select_notifications(
        after or None,
        limit,
        topics=topics or list(_published_topics()),
        inclusive_of_start=not after,
    )
    events: list[dict[str, Any]] = []
    for notification in notifications:
        event = ledger.mapper.to_domain_event(notification)
        assert isinstance(event, Event)
        events.append(envelope(notification.id, event))
    return Page(events, events[-1]["position"] if events else after)


def head_position(ledger: Ledger) -> int:
    """The position of the newest event (0 for an empty ledger)."""
    return int(ledger.recorder.max_notification_id() or 0)
