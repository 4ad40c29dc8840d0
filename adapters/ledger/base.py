"""Plumbing every use case shares: clock, retries, loading, atomic saves, reading the log.

A version conflict (another writer got there first) is retried from a fresh read with
jittered back-off, and reported as ConcurrencyConflict if it keeps happening.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime
from typing import Any, Literal, Protocol, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.domain import DomainEventProtocol, MutableOrImmutableAggregate
from eventsourcing.persistence import IntegrityError, Mapper, Recording
from eventsourcing.utils import get_topic

from adapters.ledger.event_mapper import PydanticMapper
from domain import limits
from domain.aggregate import Aggregate, Event, Stamp
from domain.errors import (
    ConcurrencyConflict,
    InvalidInput,
    NotFound,
    VersionMismatch,
)
from domain.idempotency import (
    Effect,
    IdempotencyKey,
    KeyAlreadyCommitted,
    KeyedRequest,
    record_id,
)

# Standard logging (the domain imports no logging library): the composition root routes it
# through structlog, with each call's context as fields (adapters/logging.py).
_logger = logging.getLogger("tollbook.ledger")


def _log(event: str, **context: object) -> None:
    _logger.info(event, extra={"context": context})


T = TypeVar("T")
A = TypeVar("A", bound=Aggregate)

MAX_ATTEMPTS = 12

#: The Idempotency-Key request whose command is running (see ``LedgerBase.keyed``): threading
#: it through every command's signature would touch every use case for what is one request's
#: context. (If-Match's expected version is a command's own argument: see ``_at_version``.)
_KEYED: ContextVar[KeyedRequest | None] = ContextVar("tollbook_keyed", default=None)


def replay(aggregate: Any, events: Iterable[Event]) -> Any:
    """The library's ``project_aggregate`` without its per-event ``isinstance`` check against a
    runtime-checkable Protocol (~34 µs an event on Python 3.11, a tenth of a write request's
    CPU): every stored event here is a domain ``Event``, which has ``mutate``."""
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate


def utc_now() -> datetime:
    return datetime.now(UTC)


class ReferenceIndex(Protocol):
    """Finds a document by a number without a ``DocumentNumber`` or by a unique id prefix,
    from an index (adapters/queries/references.py); raises NotFound or AmbiguousReference.
    Without one (an in-memory store) the ledger scans the log instead."""

    def find(self, kind: Literal["invoice", "payment", "credit_note"], ref: str) -> UUID: ...

    def customer_payments(self, customer_id: UUID) -> list[UUID]:
        """The ids of every payment of the customer that is not cancelled, in the order
        they were recorded (what prepaid credit is made of)."""
        ...


class SaveObserver(Protocol):
    """Told about the ledger's saves and conflicts (the composition root hands it one that
    moves the service's metrics: adapters/config.py); the ledger itself counts nothing."""

    def saved(self, operation: str, events: int) -> None: ...

    def conflicted(self, operation: str) -> None: ...

    def gave_up(self, operation: str) -> None: ...


class _Unobserved:
    def saved(self, operation: str, events: int) -> None:
        pass

    def conflicted(self, operation: str) -> None:
        pass

    def gave_up(self, operation: str) -> None:
        pass


class LedgerBase(Application[UUID]):
    """The eventsourcing Application with tollbook's mapper, clock and save discipline."""

    name = "tollbook"

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        super().__init__(env=env)
        self.clock = clock
        self.references: ReferenceIndex | None = None  # set by the composition root
        self.observer: SaveObserver = _Unobserved()  # likewise

    def construct_mapper(self) -> Mapper[UUID]:
        return PydanticMapper(
            transcoder=self.construct_transcoder(),
            compressor=self.factory.compressor(),
            cipher=self.factory.cipher(),
        )

    def save(
        self,
        *objs: MutableOrImmutableAggregate[UUID] | DomainEventProtocol[UUID] | None,
        **kwargs: Any,
    ) -> list[Recording[UUID]]:
        """``Application.save`` (declared in adapters/store/library_internals.py), but a
        domain ``Aggregate`` gives up its events without the library's two runtime-Protocol
        ``isinstance`` checks (~24 µs an aggregate on Python 3.11); anything else is collected
        as the library does."""
        processing_event: ProcessingEvent[UUID] = ProcessingEvent()
        for obj in objs:
            if isinstance(obj, Aggregate):
                processing_event.events.extend(obj.collect_events())
                processing_event.aggregates[obj.id] = obj
            else:
                processing_event.collect_events(obj)
        processing_event.saved_kwargs.update(kwargs)
        recordings = self._record(processing_event)
        self._take_snapshots(processing_event)
        self._notify(recordings)
        self.notify(processing_event.events)  # the library's deprecated hook, as it calls it
        return recordings

    # ---------------------------------------------------------------- plumbing

    def stamp(self, actor: str, reason: str | None = None) -> Stamp:
        # on every event: who and why are text like any other field (domain/limits.py)
        limits.check_text(actor, limits.ACTOR)
        limits.check_optional_text(reason, limits.REASON)
        now = self.clock()
        if now.tzinfo is None:
            raise ValueError("the ledger clock must return timezone-aware datetimes")
        return Stamp(actor=actor or "unknown", at=now, reason=reason)

    def today(self) -> date:
        return self.clock().date()

    def _retrying(self, operation: str, command: Callable[[], T]) -> T:
        """Run get -> command -> save again from fresh state when another writer won a race."""
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                return command()
            except IntegrityError:
                self.observer.conflicted(operation)
                _log("version conflict, retrying", operation=operation, attempt=attempt)
                # Jittered exponential back-off, so the loser of a race does not lose forever.
                time.sleep(random.uniform(0, min(0.2, 0.002 * 2**attempt)))
        self.observer.gave_up(operation)
        raise ConcurrencyConflict(
            f"{operation}: the same records kept changing under us; nothing was saved, try again"
        )

    def _save(self, operation: str, *aggregates: Aggregate) -> None:
        pending = [(agg.id, type(e).__name__) for agg in aggregates for e in agg._pending]
        keyed = _KEYED.get()
        if keyed is None:
            self.save(*aggregates)
        else:
            self._save_keyed(keyed, aggregates)
        self.observer.saved(operation, len(pending))
        for aggregate_id, event_name in pending:
            _log(operation, aggregate_id=str(aggregate_id), domain_event=event_name)

    def _save_keyed(self, keyed: KeyedRequest, aggregates: Sequence[Aggregate]) -> None:
        """Save the command's aggregates and the key's record in one transaction, so the key is
        committed if and only if the request's events are."""
        if keyed.committed is not None:
            # A second commit could not be replayed as one outcome: no route does this today.
            raise RuntimeError("a request with an Idempotency-Key may commit only once")
        changed = [a for a in aggregates if a._pending]
        if not changed:
            self.save(*aggregates)
            return
        first = changed[0]._pending[0]
        record = IdempotencyKey.record(
            keyed,
            [Effect(kind=type(a).__name__, aggregate_id=a.id, version=a.version) for a in changed],
            # the command's own stamp: one save, one moment (reconcile groups a save by it)
            Stamp(actor=first.actor, at=first.timestamp, reason=first.reason),
        )
        try:
            self.save(*aggregates, record)
        except IntegrityError:
            if self.idempotency_record(keyed.owner, keyed.key) is None:
                raise  # an ordinary version conflict: the caller retries from fresh state
            keyed.lost = True
            raise KeyAlreadyCommitted(keyed.key) from None
        keyed.committed = record
        _log("idempotency key recorded", key=keyed.key, record_id=str(record.id))
        if keyed.after_commit is not None:
            keyed.after_commit()

    def idempotency_record(self, owner: str, key: str) -> IdempotencyKey | None:
        """The committed record of (owner, key), or None when no request with it committed."""
        try:
            found: object = self.repository.get(record_id(owner, key), projector_func=replay)
        except AggregateNotFoundError:
            return None
        return found if isinstance(found, IdempotencyKey) else None

    @staticmethod
    @contextmanager
    def keyed(request: KeyedRequest) -> Iterator[KeyedRequest]:
        """Within the block, the (one) save a command makes also records ``request``'s key."""
        token = _KEYED.set(request)
        try:
            yield request
        finally:
            _KEYED.reset(token)

    @staticmethod
    def _at_version(aggregate: A, expected_version: int | None, what: str) -> A:
        """The If-Match guard: a command given the version its caller saw refuses to act on
        the aggregate at any other version. Commands check it on every load, so a write landing
        between the caller's read and the command (or before a retry after a race) is refused,
        never overwritten."""
        if expected_version is not None and aggregate.version != expected_version:
            raise VersionMismatch(
                f"{what} {aggregate.id} is at version {aggregate.version}, not the expected"
                f" {expected_version}: reload it and try again",
                aggregate.version,
            )
        return aggregate

    def _get(self, cls: type[A], aggregate_id: UUID, what: str) -> A:
        try:
            aggregate: object = self.repository.get(aggregate_id, projector_func=replay)
        except AggregateNotFoundError:
            raise NotFound(f"unknown {what} {aggregate_id}", field=_field(what)) from None
        if not isinstance(aggregate, cls):
            raise NotFound(f"{aggregate_id} is not a {what}", field=_field(what))
        return aggregate

    def _by_key_or_id(
        self, cls: type[A], ref: str | UUID, id_for: Callable[[str], UUID], what: str
    ) -> A:
        """Aggregates with a business key (account number, name) are found by key or by id."""
        if isinstance(ref, UUID):
            return self._get(cls, ref, what)
        try:
            return self._get(cls, id_for(ref), what)
        except NotFound:
            pass
        try:
            return self._get(cls, UUID(ref), what)
        except (ValueError, NotFound):
            raise NotFound(f"unknown {what} {ref!r}", field=_field(what)) from None

    def _create(self, operation: str, aggregate: Aggregate, duplicate: Exception) -> None:
        try:
            self._save(operation, aggregate)
        except IntegrityError:
            raise duplicate from None

    def _ids_of(self, created: type[Event]) -> Iterator[tuple[int, Event]]:
        """Every event of one type, in log order, as (position, event)."""
        return self.all_events(topics=[get_topic(created)], page_size=500)

    # ------------------------------------------------------------------- audit

    def all_events(
        self, after: int = 0, page_size: int = 1000, topics: Sequence[str] = ()
    ) -> Iterator[tuple[int, Event]]:
        """Every event in the log after position ``after`` (only of ``topics`` when given),
        as (position, event)."""
        start: int | None = after or None
        while True:
            page = self.recorder.select_notifications(
                start, page_size, topics=topics, inclusive_of_start=start is None
            )
            for notification in page:
                event = self.mapper.to_domain_event(notification)
                assert isinstance(event, Event)
                yield notification.id, event
            if len(page) < page_size:
                return
            start = page[-1].id

    def event_at(self, position: int) -> Event:
        """The event at one position of the log (what a message of the stream names)."""
        for found, event in self.all_events(after=position - 1, page_size=1):
            if found == position:
                return event
            break
        raise NotFound(f"no event at position {position}")

    def events_of(self, aggregate_id: UUID) -> list[Event]:
        """Every event of one aggregate, oldest first."""
        events = [e for e in self.events.get(aggregate_id) if isinstance(e, Event)]
        if not events:
            raise NotFound(f"no events for {aggregate_id}")
        return events

    def as_of(
        self,
        cls: type[A],
        aggregate_id: UUID,
        *,
        version: int | None = None,
        at: datetime | None = None,
    ) -> A:
        """The aggregate exactly as it stood at a version or a moment."""
        if at is not None and at.tzinfo is None:
            raise InvalidInput("an as-of time needs a time zone (e.g. 2026-11-01T12:00:00Z)")
        state: Any = None
        for event in self.events_of(aggregate_id):
            if version is not None and event.originator_version > version:
                break
            if at is not None and event.timestamp > at:
                break
            state = event.mutate(state)
        if state is None:
            raise NotFound(f"{aggregate_id} did not exist at that {'time' if at else 'version'}")
        if not isinstance(state, cls):
            raise NotFound(f"{aggregate_id} is not a {cls.__name__}")
        return state


def _field(what: str) -> str:
    """The input a failed look-up concerns: "credit note" -> "credit_note"."""
    return what.replace(" ", "_")
