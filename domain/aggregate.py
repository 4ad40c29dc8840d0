"""Base classes for event-sourced aggregates whose events are frozen pydantic models.

eventsourcing 9.5 has no pydantic support, so these classes implement the small protocol its
Application and Repository rely on: an aggregate has ``id``, ``version`` and
``collect_events()``; an event has ``originator_id``, ``originator_version``, ``timestamp``
and ``mutate(aggregate)``. The mapper in adapters/store stores ``model_dump(mode="json")`` and
loads with ``model_validate`` so Decimals, dates and nested models come back exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Self, TypeVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, field_validator


@dataclass(frozen=True, slots=True)
class Stamp:
    """Who did it, when (from the application's injected clock) and why."""

    actor: str
    at: datetime
    reason: str | None = None


class Event(BaseModel):
    """A fact about one aggregate. Subclasses declare their own fields; ``apply`` only assigns."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    originator_id: UUID
    originator_version: int
    timestamp: datetime
    actor: str
    reason: str | None = None

    @field_validator("timestamp")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("event timestamps must be timezone-aware")
        return value

    def mutate(self, aggregate: Any) -> Any:
        if aggregate is None:
            raise ValueError(f"{type(self).__name__} cannot start an aggregate")
        if aggregate.id != self.originator_id:
            raise ValueError(f"event for {self.originator_id} applied to {aggregate.id}")
        if self.originator_version != aggregate.version + 1:
            raise ValueError(f"event version {self.originator_version} after {aggregate.version}")
        self.apply(aggregate)
        aggregate.version = self.originator_version
        aggregate.modified_on = self.timestamp
        return aggregate

    def apply(self, aggregate: Any) -> None:
        """Assign the event's consequences to the aggregate. No validation, clock or I/O."""


class Created(Event):
    """The first event of an aggregate; ``mutate(None)`` builds the aggregate from it."""

    aggregate_class: ClassVar[type[Aggregate]]

    def mutate(self, aggregate: Any) -> Any:
        if aggregate is not None:
            raise ValueError("a created event must be the first event")
        if self.originator_version != 1:
            raise ValueError("a created event must have version 1")
        agg = self.aggregate_class.__new__(self.aggregate_class)
        agg._base_init(self.originator_id, self.timestamp)
        self.apply(agg)
        agg.version = 1
        return agg


A = TypeVar("A", bound="Aggregate")


class Aggregate:
    """An event-sourced aggregate: state is only ever changed by applying its own events."""

    _id: UUID
    version: int
    created_on: datetime
    modified_on: datetime
    _pending: list[Event]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for value in vars(cls).values():
            if isinstance(value, type) and issubclass(value, Created):
                value.aggregate_class = cls

    @classmethod
    def declared_events(cls) -> tuple[type[Event], ...]:
        """The event types this aggregate declares in its class body, in declaration order."""
        return tuple(
            value
            for value in vars(cls).values()
            if isinstance(value, type) and issubclass(value, Event)
        )

    def _base_init(self, id: UUID, created_on: datetime) -> None:
        self._id = id
        self.version = 0
        self.created_on = created_on
        self.modified_on = created_on
        self._pending = []

    @property
    def id(self) -> UUID:
        return self._id

    @classmethod
    def _start(cls, created: type[Created], id: UUID, stamp: Stamp, **fields: Any) -> Self:
        event = created(
            originator_id=id,
            originator_version=1,
            timestamp=stamp.at,
            actor=stamp.actor,
            reason=stamp.reason,
            **fields,
        )
        aggregate: Self = event.mutate(None)
        aggregate._pending.append(event)
        return aggregate

    def _trigger(self, event_class: type[Event], stamp: Stamp, **fields: Any) -> None:
        event = event_class(
            originator_id=self.id,
            originator_version=self.version + 1,
            timestamp=stamp.at,
            actor=stamp.actor,
            reason=stamp.reason,
            **fields,
        )
        event.mutate(self)
        self._pending.append(event)

    def collect_events(self) -> list[Event]:
        events, self._pending = self._pending, []
        return events

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id} v{self.version}>"
