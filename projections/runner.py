"""Follows the event log into the read models: catch up on start, then keep following.

Works the same on SQLite and PostgreSQL by polling the notification log (the library's
ProjectionRunner cannot subscribe to a SQLite application). Each batch of events and the new
tracking positions commit in ONE transaction of the read-model store, and the store refuses a
batch whose starting positions moved meanwhile, so two runners (a service and a CLI command
catching up before it reads) never apply an event twice. Notification ids can have gaps: a
read model always resumes strictly after its last tracked id.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from typing import Protocol

import structlog

from domain.aggregate import Event
from domain.application import Ledger
from domain.errors import NotFound
from projections.aged_receivables import AgedReceivables
from projections.customer_balances import CustomerBalances
from projections.decoding import PartialDecoder
from projections.directory import Directory
from projections.invoice_register import InvoiceRegister
from projections.payment_history import PaymentHistory
from projections.view import Handler, Projection, ViewWriter

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


class PositionMoved(Exception):
    """Another runner committed this read model meanwhile: re-read positions and go on."""


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

    def events_after(self, position: int) -> int:
        """How many events the log holds after ``position`` (the lag of a read model there)."""

    def announcements(self, channel: str | None) -> AbstractContextManager[Wait]:
        """A wait(stop, timeout) that returns early when the event store announces new
        events on ``channel`` (where it can), else after ``timeout`` or when ``stop`` is set."""


#: A rebuild's events per transaction. On SQLite a transaction's cost grows with the pages
#: it dirties, and rebuilt tables' random keys dirty a page per row: at a million events
#: 20,000 a batch cut the committing thread's work by a third against 5,000 (it had become
#: the bottleneck), holding the write lock ~0.4 s a batch instead of ~0.15 s.
REBUILD_BATCH_SIZE = 20_000


class Runner:
    """Applies the log to read models in batches, each batch exactly once."""

    def __init__(
        self,
        ledger: Ledger,
        store: TrackedStore,
        projections: Sequence[Projection] | None = None,
        batch_size: int = 1000,
    ) -> None:
        self.ledger = ledger
        self.store = store
        self.projections = list(projections) if projections is not None else all_projections()
        self.batch_size = batch_size
        self._decoders: dict[tuple[str, ...], tuple[PartialDecoder, Routes]] = {}

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
        """Apply every committed event the read models have not seen; returns how many.

        While there is more than one batch to do, each batch commits on a second thread as
        the next one is decoded and applied (the databases do their part of a write without
        holding Python's GIL), so a long catch-up or rebuild uses both cores."""
        projections = self.select(names)
        self.store.ensure(projections)
        return self._catch_up(projections, progress)

    def _catch_up(self, projections: list[Projection], progress: Progress | None) -> int:
        applied = 0
        # positions as last read or committed by us; a batch re-checks them in its transaction
        positions = self._positions(projections)
        with ExitStack() as stack:
            stack.callback(self._release_quietly)
            background: Executor | None = None
            while True:
                head = self.head()
                behind = [p for p in projections if positions[p.name] < head]
                try:
                    if not behind:
                        self.store.settle()
                        return applied
                    start = min(positions[p.name] for p in behind)
                    group = [p for p in behind if positions[p.name] == start]
                    # stop where the next read model already is, so the groups merge there
                    stop = min([head, *(positions[p.name] for p in behind if p not in group)])
                    count, reached = self._apply_batch(group, start, stop, head, background)
                except PositionMoved:  # another runner got there first: see where things are
                    positions = self._positions(projections)
                    continue
                positions.update((p.name, reached) for p in group)
                applied += count
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

    def _apply_batch(
        self,
        group: list[Projection],
        start: int,
        stop: int,
        head: int,
        background: Executor | None,
    ) -> tuple[int, int]:
        decoder, routes = self._routes(group)
        # No upper bound when the group may go to the head: events committed since are fine
        # (the stores commit notification ids in order), and an open range keeps PostgreSQL
        # on the index in id order. A bounded range over a just-loaded log without planner
        # statistics made it fetch and sort the whole range for every page (3x slower).
        page = self.ledger.recorder.select_notifications(
            start,
            self.batch_size,
            stop=stop if stop < head else None,
            topics=decoder.topics,
            inclusive_of_start=False,
        )
        # a short page means nothing else the group follows exists up to ``stop`` (or beyond)
        if len(page) == self.batch_size:
            reached = page[-1].id
        else:
            reached = max(stop, page[-1].id) if page else stop
        decode = decoder.decode
        with self.store.batch(group, start, reached, background) as view:
            for notification in page:
                kind, event = decode(notification)
                for projection, handle in routes[kind]:
                    handle(projection, event, notification.id, view)
        log.debug(
            "read models advanced",
            read_models=[p.name for p in group],
            events=len(page),
            position=reached,
        )
        return len(page), reached

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
        """Drop the read models and apply the whole log again, from event zero."""
        projections = self.select(names)
        self.store.ensure(projections)
        self.store.reset(projections)
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
        store to announce new events (PostgreSQL) or for ``interval`` to pass (polling)."""
        channel = getattr(self.ledger.recorder, "channel_name", None)
        with self.store.announcements(channel) as wait:
            while not stop.is_set():
                try:
                    self.catch_up()
                except Exception:  # a storage hiccup must not end the follower: log, retry
                    log.exception("catching up failed; retrying")
                    time.sleep(min(5.0, interval * 10))
                wait(stop, interval)
