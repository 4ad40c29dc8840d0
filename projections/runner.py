"""Follows the event log into the read models: catch up on start, then keep following.

Works the same on SQLite and PostgreSQL by polling the notification log (the library's
ProjectionRunner cannot subscribe to a SQLite application). Each batch of events and the new
tracking positions commit in ONE transaction of the read-model store, and the store refuses a
batch whose starting positions moved meanwhile, so two runners (a service and a CLI command
catching up before it reads) never apply an event twice. Notification ids can have gaps: a
read model always resumes strictly after its last tracked id.
"""

from __future__ import annotations

import decimal
import gc
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

import structlog
from eventsourcing.persistence import Notification

from domain.aggregate import Event
from domain.errors import NotFound
from projections.aged_receivables import AgedReceivables
from projections.billed_periods import BilledPeriods
from projections.customer_balances import CustomerBalances
from projections.decoding import PartialDecoder
from projections.directory import Directory
from projections.invoice_documents import InvoiceDocuments
from projections.invoice_register import InvoiceRegister
from projections.payment_history import PaymentHistory
from projections.split_rebuild import CHILD_READ_MODELS, start_child
from projections.statement_lines import StatementLines
from projections.view import EventLog, EventRow, Handler, Projection, ViewWriter

log = structlog.get_logger("tollbook.projections")


Progress = Callable[[int, int], None]  # (position reached, head)
Wait = Callable[[threading.Event, float], None]  # (stop, timeout)
Routes = dict[type[Event], list[tuple[Projection, Handler]]]


def all_projections() -> list[Projection]:
    """Every read model tollbook maintains, by name."""
    return [
        CustomerBalances(),
        PaymentHistory(),
        InvoiceRegister(),
        AgedReceivables(),
        Directory(),
        BilledPeriods(),
        StatementLines(),
        InvoiceDocuments(),
    ]


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """No cyclic garbage collection during a long catch-up or rebuild: the row caches grow to
    hundreds of thousands of long-lived objects, and every full collection would walk them
    all again (at a million events that tripled the rebuild time). Reference counting still
    frees everything a batch leaves behind; the collector resumes as it was afterwards."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _notification(record: tuple[int, str, int, str, bytes]) -> Notification:
    """A row of ``TrackedStore.read_events`` as the recorder would have returned it."""
    position, aggregate, version, topic, state = record
    return Notification(
        id=position,
        originator_id=UUID(aggregate),
        originator_version=version,
        topic=topic,
        state=state,
    )


class PositionMoved(Exception):
    """Another runner committed this read model meanwhile: re-read positions and go on."""


@dataclass(frozen=True)
class Fault:
    """Why a read model stopped: the event it cannot apply, and the error it met.

    The read model holds every event up to ``position`` (its tracking position); ``event_id``
    is the first event after it that it follows, which failed to decode, apply or store."""

    name: str
    position: int
    event_id: int
    event_type: str
    aggregate_id: str
    aggregate_version: int
    error: str
    since: str | None = None

    def same(self, other: Fault | None) -> bool:
        """The same event and the same error (when first seen aside)."""
        return other is not None and (self.position, self.event_id, self.error) == (
            other.position,
            other.event_id,
            other.error,
        )


class _Poisoned(Exception):
    """An event some read models of a batch cannot decode or apply."""

    def __init__(self, projections: list[Projection], notification: Notification, error: str):
        super().__init__(error)
        self.projections = projections
        self.notification = notification
        self.error = error


class _Refused(Exception):
    """The database refused a batch's rows (and would again): narrow it down."""

    def __init__(self, error: Exception, count: int, reached: int, single: Notification | None):
        super().__init__(describe_error(error))
        self.original = error
        self.count = count
        self.reached = reached
        self.single = single  # the batch's only event, when it was one event committed here


def describe_error(error: BaseException) -> str:
    """One line naming the error, short enough for a status table and a log line."""
    if isinstance(error, decimal.DecimalException):  # their text is only "[<class ...>]"
        return f"{type(error).__name__}: a stored number is beyond decimal arithmetic's range"
    text = " ".join(str(error).split())
    if len(text) > 300:
        text = text[:300] + "…"
    # the error may quote a stored value: never put its control characters in a log or table
    text = "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


@dataclass(frozen=True)
class Tracking:
    name: str
    position: int
    generation: int
    updated_at: str | None


class TrackedStore(Protocol):
    """Where read models and their tracking positions live (adapters/store/read_models.py)."""

    def ensure(self, projections: Sequence[Projection]) -> None:
        """Create missing tables and tracking rows (rebuilding a read model whose shape changed)."""

    def tracking(self, names: Sequence[str]) -> dict[str, Tracking]:
        """The committed position of each named read model."""

    def batch(
        self,
        projections: Sequence[Projection],
        start: int,
        reached: int,
        background: Executor | None = None,
    ) -> AbstractContextManager[ViewWriter]:
        """One transaction: raises PositionMoved unless every read model is still at ``start``;
        on a clean exit writes the rows and moves every position to ``reached`` (in
        ``background`` when given, while the caller goes on to the next batch)."""

    def settle(self) -> None:
        """Wait for a batch committing in the background; raise what it raised."""

    def release(self) -> None:
        """``settle``, then give back what the batches kept open (a catch-up is over)."""

    def reset(self, projections: Sequence[Projection]) -> None:
        """Drop and recreate the read models' tables at position 0 (secondary indexes may be
        left out until ``create_indexes``)."""

    def create_indexes(self, projections: Sequence[Projection]) -> None:
        """Create the read models' secondary indexes that are missing."""

    def read_events(
        self, after: int, limit: int, stop: int | None, topics: Sequence[str]
    ) -> list[tuple[int, str, int, str, bytes]]:
        """The log's events after position ``after`` (up to ``stop`` when given), only of
        ``topics``, in log order, at most ``limit``: (position, aggregate id as UUID text,
        aggregate version, topic, stored bytes)."""

    def events_after(self, position: int) -> int:
        """How many events the log holds after ``position`` (the lag of a read model there)."""

    def announcements(self, channel: str | None) -> AbstractContextManager[Wait]:
        """A wait(stop, timeout) that returns early when the event store announces new
        events on ``channel`` (where it can), else after ``timeout`` or when ``stop`` is set."""

    def faults(self, names: Sequence[str]) -> dict[str, Fault]:
        """The recorded fault of each named read model that has one."""

    def record_fault(self, fault: Fault) -> None:
        """Record (or replace) why a read model stopped."""

    def clear_fault(self, name: str) -> None:
        """The read model got past its fault (or was rebuilt): forget it."""

    def is_transient(self, error: BaseException) -> bool:
        """The error is the database's passing state (connection, lock, shutdown), not the
        rows of a batch: retrying the same batch later may succeed."""


#: A rebuild's events per transaction. On SQLite a transaction's cost grows with the pages
#: it dirties, and rebuilt tables' random keys dirty a page per row: at a million events
#: 20,000 a batch cut the committing thread's work by a third against 5,000 (it had become
#: the bottleneck), holding the write lock ~0.4 s a batch instead of ~0.15 s.
REBUILD_BATCH_SIZE = 20_000


#: A stopped read model tries its event again after this many seconds, doubling up to the
#: maximum (a new version of tollbook may be able to apply it; trying costs one event).
RETRY_FIRST, RETRY_MAX = 1.0, 300.0
#: Refused batches in a row (while narrowing down to the event) before giving up the catch-up.
MAX_REFUSALS = 64


class Runner:
    """Applies the log to read models in batches, each batch exactly once.

    A read model that cannot apply an event (decoding, its handler or the database refuses
    it) stops just before that event and records why (``Fault``, shown by ``projections
    status`` and ``/health``); the other read models go on. A stopped read model tries its
    event again with back-off, and starts again by itself once it can apply it."""

    def __init__(
        self,
        ledger: EventLog,
        store: TrackedStore,
        projections: Sequence[Projection] | None = None,
        batch_size: int = 1000,
        child: Callable[[], Runner] | None = None,
    ) -> None:
        self.ledger = ledger
        #: builds, in a child process, a runner over the same stores (a picklable callable):
        #: given, a rebuild of all read models runs CHILD_READ_MODELS there at the same time
        self.child = child
        self.store = store
        self.projections = list(projections) if projections is not None else all_projections()
        for projection in self.projections:
            projection.attach(ledger)
        self.batch_size = batch_size
        self._decoders: dict[tuple[str, ...], tuple[PartialDecoder, Routes]] = {}
        #: the next page, read ahead: ((group, start, limit), head when read, rows)
        self._ahead: tuple[tuple[tuple[str, ...], int, int], int, list[EventRow]] | None = None
        #: the read models found stopped by the last catch-up, by name
        self.faults: dict[str, Fault] = {}
        # name -> (monotonic time of the next try, current delay)
        self._retry: dict[str, tuple[float, float]] = {}

    def select(self, names: Iterable[str] | None) -> list[Projection]:
        """The read models with these names (all of them when ``names`` is empty)."""
        wanted = list(names or [])
        known = {p.name: p for p in self.projections}
        unknown = [name for name in wanted if name not in known]
        if unknown:
            raise NotFound(f"no read model {unknown[0]!r} (known: {', '.join(known)})")
        return [known[name] for name in wanted] if wanted else list(self.projections)

    def head(self) -> int:
        return self.ledger.recorder.max_notification_id() or 0

    def catch_up(self, names: Iterable[str] | None = None, progress: Progress | None = None) -> int:
        """Apply every event committed before the call that the read models have not seen;
        returns how many. Events committed meanwhile are left to the next call, so a catch-up
        under a steady writer ends (a follower calls again at once).

        While there is more than one batch to do, each batch commits on a second thread as
        the next one is decoded and applied (the databases do their part of a write without
        holding Python's GIL), so a long catch-up or rebuild uses both cores. A read model
        that cannot apply an event stops before it (see ``faults``); the others go on."""
        projections = self.select(names)
        self.store.ensure(projections)
        return self._catch_up(projections, progress)

    def _catch_up(self, projections: list[Projection], progress: Progress | None) -> int:
        applied = 0
        # positions as last read or committed by us; a batch re-checks them in its transaction
        positions = self._positions(projections)
        held = self._stopped(projections, positions)
        # a poisoned event's read models first apply what comes before it: name -> (the
        # position just before the event, the fault to record there)
        barriers: dict[str, tuple[int, Fault]] = {}
        # after the database refused a batch: smaller batches, one read model at a time when
        # down to one event, until the refused range is behind us
        narrow_until, limit, refusals = -1, self.batch_size, 0
        with ExitStack() as stack:
            stack.callback(self._release_quietly)
            stack.callback(setattr, self, "_ahead", None)  # a page read ahead is not kept
            background: Executor | None = None
            # fixed at the start: re-reading it each batch chased a writer faster than us for ever
            head = self.head()
            while True:
                for name, (barrier, fault) in list(barriers.items()):
                    if positions[name] >= barrier:
                        del barriers[name]
                        if positions[name] == barrier:
                            self._stop(fault)
                            held.add(name)
                behind = [p for p in projections if positions[p.name] < head and p.name not in held]
                try:
                    if not behind:
                        self.store.settle()
                        return applied
                    start = min(positions[p.name] for p in behind)
                    group = [p for p in behind if positions[p.name] == start]
                    # stop where the next read model already is, so the groups merge there
                    stop = min([head, *(positions[p.name] for p in behind if p not in group)])
                    stop = min([stop, *(barriers[p.name][0] for p in group if p.name in barriers)])
                    narrowing = start < narrow_until
                    if narrowing and limit == 1:
                        group = group[:1]
                    count, reached = self._apply_batch(
                        group,
                        start,
                        stop,
                        head,
                        None if narrowing else background,
                        limit if narrowing else self.batch_size,
                    )
                except PositionMoved:  # another runner got there first: see where things are
                    positions = self._positions(projections)
                    continue
                except _Poisoned as poisoned:
                    positions = self._positions(projections)
                    for projection in poisoned.projections:
                        before = poisoned.notification.id - 1  # ids are integers, gaps or not
                        fault = self._fault(
                            projection, before, poisoned.notification, poisoned.error
                        )
                        barriers[projection.name] = (fault.position, fault)
                    continue
                except _Refused as refused:
                    refusals += 1
                    if refusals > MAX_REFUSALS or refused.count == 0:
                        raise refused.original from None
                    positions = self._positions(projections)
                    if refused.single is not None and len(group) == 1:
                        [projection] = group
                        position = positions[projection.name]
                        self._stop(
                            self._fault(projection, position, refused.single, refused.args[0])
                        )
                        held.add(projection.name)
                    else:
                        narrow_until = max(narrow_until, refused.reached)
                        limit = max(1, min(limit, refused.count) // 2)
                    continue
                refusals = 0
                positions.update((p.name, reached) for p in group)
                applied += count
                for projection in group:
                    self._resumed(projection.name, reached)
                if narrowing and reached >= narrow_until:
                    limit = self.batch_size
                if progress is not None:
                    progress(reached, head)
                if background is None and count == self.batch_size:  # more than one batch
                    background = stack.enter_context(
                        ThreadPoolExecutor(1, thread_name_prefix="tollbook-read-models")
                    )
                    stack.enter_context(_cyclic_gc_paused())

    def _release_quietly(self) -> None:
        """On the way out, let a background commit finish (or fail, after an earlier error)
        and give back the store's batch connection."""
        try:
            self.store.release()
        except Exception:
            log.debug("a background batch failed after an earlier error", exc_info=True)

    def _positions(self, projections: Sequence[Projection]) -> dict[str, int]:
        tracking = self.store.tracking([p.name for p in projections])
        return {name: row.position for name, row in tracking.items()}

    # ------------------------------------------------------------ stopped read models

    def _stopped(self, projections: Sequence[Projection], positions: dict[str, int]) -> set[str]:
        """The read models to leave alone in this catch-up: stopped at an event, and not yet
        due to try it again. A recorded fault whose read model has moved on since (another
        process applied the event, or a rebuild started) is forgotten."""
        held: set[str] = set()
        recorded = self.store.faults([p.name for p in projections])
        for projection in projections:
            name = projection.name
            fault = recorded.get(name)
            if fault is None or fault.position != positions[name]:
                if fault is not None:
                    self.store.clear_fault(name)
                self.faults.pop(name, None)
                self._retry.pop(name, None)
                continue
            self.faults[name] = fault
            retry_at, _ = self._retry.get(name, (0.0, 0.0))
            if time.monotonic() < retry_at:
                held.add(name)
        return held

    def _fault(
        self, projection: Projection, position: int, notification: Notification, error: str
    ) -> Fault:
        return Fault(
            name=projection.name,
            position=position,
            event_id=notification.id,
            event_type=notification.topic.rpartition(":")[2],
            aggregate_id=str(notification.originator_id),
            aggregate_version=notification.originator_version,
            error=error,
        )

    def _stop(self, fault: Fault) -> None:
        """Record that a read model stopped; log it once per change (not on every retry)."""
        known = self.faults.get(fault.name)
        if not fault.same(known):
            self.store.record_fault(fault)
            log.error(
                "read model stopped: it cannot apply an event",
                read_model=fault.name,
                position=fault.position,
                event_id=fault.event_id,
                event_type=fault.event_type,
                aggregate_id=fault.aggregate_id,
                aggregate_version=fault.aggregate_version,
                error=fault.error,
            )
        self.faults[fault.name] = fault
        _, delay = self._retry.get(fault.name, (0.0, 0.0))
        delay = min(RETRY_MAX, delay * 2) if delay else RETRY_FIRST
        self._retry[fault.name] = (time.monotonic() + delay, delay)

    def _resumed(self, name: str, reached: int) -> None:
        fault = self.faults.get(name)
        if fault is not None and reached >= fault.event_id:
            self.store.clear_fault(name)
            del self.faults[name]
            self._retry.pop(name, None)
            log.info(
                "read model applied the event it had stopped at",
                read_model=name,
                event_id=fault.event_id,
                position=reached,
            )

    def stopped(self) -> dict[str, Fault]:
        """Every read model that is stopped at an event, as recorded (any process)."""
        names = [p.name for p in self.projections]
        tracking = self.store.tracking(names)
        return {
            name: fault
            for name, fault in self.store.faults(names).items()
            if fault.position == tracking[name].position
        }

    # ------------------------------------------------------------ batches

    def _apply_batch(
        self,
        group: list[Projection],
        start: int,
        stop: int,
        head: int,
        background: Executor | None,
        limit: int,
    ) -> tuple[int, int]:
        decoder, routes = self._routes(group)
        names = tuple(p.name for p in group)
        page = self._read_ahead((names, start, limit), head) if stop >= head else None
        if page is None:
            # No upper bound when the group may go to the head: events committed since are
            # fine (the stores commit notification ids in order), and an open range keeps
            # PostgreSQL on the index in id order. A bounded range over a just-loaded log
            # without planner statistics made it fetch and sort the whole range for every
            # page (3x slower).
            page = self.store.read_events(
                start, limit, stop if stop < head else None, decoder.topics
            )
        # a short page means nothing else the group follows exists up to ``stop`` (or beyond)
        full = len(page) == limit
        reached = page[-1][0] if full else max(stop, page[-1][0]) if page else stop
        if background is None:
            # a batch committing in the background is in before this one: what fails in
            # this one's transaction below is this batch's own
            self.store.settle()
        decode = decoder.decode_record
        try:
            with self.store.batch(group, start, reached, background) as view:
                for projection in group:
                    projection.batch_read(page)
                for record in page:
                    position, aggregate, version, topic, state = record
                    try:
                        kind, event = decode(topic, state, aggregate, version)
                    except Exception as error:
                        kind = decoder.models[topic][0]
                        followers = [p for p in group if kind in p.handlers]
                        raise _Poisoned(
                            followers, _notification(record), describe_error(error)
                        ) from error
                    for projection, handle in routes[kind]:
                        try:
                            handle(projection, event, position, view)
                        except Exception as error:
                            raise _Poisoned(
                                [projection], _notification(record), describe_error(error)
                            ) from error
                # what fails here is the database's or a row's: narrowed down to one event
                # like a refused batch, then recorded as that event's fault
                for projection in group:
                    projection.batch_applied(view)
                if background is not None and full:
                    # the next page, read now that the previous batch is in and before this
                    # one is handed over: while a commit runs beside it, SQLite's reader
                    # waits for the GIL at every row (pages took several times their CPU)
                    self.store.settle()
                    self._read_next(names, reached, limit, decoder.topics)
        except (_Poisoned, PositionMoved):
            raise
        except Exception as error:
            if self.store.is_transient(error):
                raise
            single = _notification(page[0]) if background is None and len(page) == 1 else None
            raise _Refused(error, len(page), reached, single) from error
        log.debug(
            "read models advanced",
            read_models=[p.name for p in group],
            events=len(page),
            position=reached,
        )
        return len(page), reached

    def _read_next(
        self, names: tuple[str, ...], start: int, limit: int, topics: Sequence[str]
    ) -> None:
        try:
            head = self.head()
            self._ahead = (
                (names, start, limit),
                head,
                self.store.read_events(start, limit, None, topics),
            )
        except Exception:  # read again in the next batch, where a failure is the read's own
            self._ahead = None
            log.debug("reading the next page ahead failed", exc_info=True)

    def _read_ahead(
        self, key: tuple[tuple[str, ...], int, int], head: int
    ) -> list[EventRow] | None:
        """The page read ahead for this group, start and size, if it is still the whole page:
        a full page always is; a short one only while the head has not moved since."""
        ahead, self._ahead = self._ahead, None
        if ahead is None or ahead[0] != key:
            return None
        _, then, page = ahead
        return page if len(page) == key[2] or head <= then else None

    def _routes(self, group: list[Projection]) -> tuple[PartialDecoder, Routes]:
        """The group's decoder (the union of the fields its read models read) and, per event
        type, the handlers to call: worked out once per group, not per event."""
        key = tuple(p.name for p in group)
        found = self._decoders.get(key)
        if found is None:
            routes: Routes = {}
            reads: dict[type[Event], set[str]] = {}
            for projection in group:
                for kind, (handle, fields) in projection.handlers.items():
                    routes.setdefault(kind, []).append((projection, handle))
                    reads.setdefault(kind, set()).update(fields)
            found = self._decoders[key] = (PartialDecoder(self.ledger.mapper, reads), routes)
        return found

    def rebuild(self, names: Iterable[str] | None = None, progress: Progress | None = None) -> int:
        """Drop the read models and apply the whole log again, from event zero.

        With ``child`` given and read models of both groups chosen, CHILD_READ_MODELS are
        rebuilt in a child process meanwhile (``progress`` follows the parent's group); a
        child that cannot start leaves them to this process. Returns the events applied by
        the group that followed more of them."""
        projections = self.select(names)
        aside = [p for p in projections if p.name in CHILD_READ_MODELS]
        if self.child is None or not aside or len(aside) == len(projections):
            return self._rebuild(projections, progress)
        self.store.ensure(projections)  # tables created here, before two processes write
        child = start_child(self.child, [p.name for p in aside], self.batch_size)
        if child is None:
            return self._rebuild(projections, progress)
        try:
            applied = self._rebuild([p for p in projections if p not in aside], progress)
        except BaseException:
            try:
                child.wait()
            except Exception:
                log.exception("the child process rebuilding read models failed too")
            raise
        applied = max(applied, child.wait())
        for projection in aside:  # stopped at an event there: as if stopped here
            self.faults.pop(projection.name, None)
            self._retry.pop(projection.name, None)
        stopped = self.stopped()
        self.faults.update((p.name, stopped[p.name]) for p in aside if p.name in stopped)
        return applied

    def _rebuild(self, projections: list[Projection], progress: Progress | None) -> int:
        self.store.ensure(projections)
        self.store.reset(projections)
        for projection in projections:
            self.faults.pop(projection.name, None)
            self._retry.pop(projection.name, None)
        log.info("read models reset", read_models=[p.name for p in projections])
        applied = self._catch_up(projections, progress)
        self.store.create_indexes(projections)
        return applied

    def status(self) -> Iterator[tuple[Tracking, int]]:
        """Each read model's tracking position and how many events it is behind."""
        self.store.ensure(self.projections)
        tracking = self.store.tracking([p.name for p in self.projections])
        for projection in self.projections:
            row = tracking[projection.name]
            yield row, self.store.events_after(row.position)

    def follow(self, stop: threading.Event, interval: float = 0.2) -> None:
        """Keep the read models current until ``stop`` is set: catch up, then wait for the
        store to announce new events (PostgreSQL) or for ``interval`` to pass (polling).

        A catch-up that fails (the database is away, say) is tried again with back-off, and
        logged once per different error, not on every try; a read model stopped at an event
        is logged once when it stops (``_stop``) while the others keep following."""
        channel = getattr(self.ledger.recorder, "channel_name", None)
        failing: str | None = None
        delay = 0.0
        with self.store.announcements(channel) as wait:
            while not stop.is_set():
                try:
                    applied = self.catch_up()
                except Exception as error:  # a storage hiccup must not end the follower
                    text = describe_error(error)
                    delay = min(60.0, delay * 2) if delay else max(1.0, interval * 10)
                    if text != failing:
                        log.exception("catching up failed; retrying with back-off", retry_in=delay)
                        failing = text
                    else:
                        log.debug("catching up still fails", error=text, retry_in=delay)
                    stop.wait(delay)
                    continue
                if failing is not None:
                    log.info("catching up works again")
                    failing, delay = None, 0.0
                if not applied:  # a catch-up stops at the head it started from: go again
                    wait(stop, interval)
