"""Group commit (adapters/store/group_commit.py): saves queued behind a running transaction are
written together in the next one, each keeping its own version check, positions and
atomicity — on SQLite and PostgreSQL, with the audit chain intact."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from decimal import Decimal as D
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import IntegrityError, PersistenceError, StoredEvent

from adapters.audit import verify_store
from adapters.store import chain
from adapters.store.database import Database
from domain.errors import OverAllocation
from tests.helpers import completed_payment, customer, issued_invoice

TOPIC = "tests.integration.test_group_commit:Thing"


def event(aggregate: UUID, version: int = 1, state: bytes = b'{"n": 1}') -> StoredEvent:
    return StoredEvent(
        originator_id=aggregate, originator_version=version, topic=TOPIC, state=state
    )


class Held:
    """Holds the recorder's next transaction open until ``release``; saves made meanwhile
    queue up and are written together in the one after it. ``sizes``: saves per write."""

    def __init__(self, recorder: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        self.group = recorder.group
        self.entered, self.released = threading.Event(), threading.Event()
        self.sizes: list[int] = []
        write = self.group._write

        def held(saves: list[Any]) -> None:
            self.sizes.append(len(saves))
            if len(self.sizes) == 1:
                self.entered.set()
                self.released.wait(20)
            write(saves)

        monkeypatch.setattr(self.group, "_write", held)
        self.results: dict[str, Any] = {}
        self.threads: list[threading.Thread] = []

    def save(self, name: str, events: list[StoredEvent]) -> None:
        """Save ``events`` in a thread of its own; wait until the save is queued (or, for
        the first, until its transaction is open)."""
        queued = len(self.group._queue)

        def run() -> None:
            try:
                self.results[name] = self.group.submit(events)
            except BaseException as error:
                self.results[name] = error

        thread = threading.Thread(target=run)
        self.threads.append(thread)
        thread.start()
        if len(self.threads) == 1:
            assert self.entered.wait(20)
        else:
            deadline = time.monotonic() + 20
            while len(self.group._queue) == queued and time.monotonic() < deadline:
                time.sleep(0.005)

    def finish(self) -> dict[str, Any]:
        self.released.set()
        for thread in self.threads:
            thread.join(30)
        return self.results


def stored(ledger: Any, aggregate: UUID) -> list[tuple[int, bytes]]:
    return [(e.originator_version, e.state) for e in ledger.recorder.select_events(aggregate)]


def chain_intact(ledger: Any, store_url: str) -> bool:
    findings, _ = verify_store(ledger, Database.from_url(store_url))
    return findings == []


def test_a_conflicting_save_fails_alone_and_the_others_of_its_batch_are_written(
    ledger, store_url, monkeypatch
):
    existing = uuid4()
    ledger.recorder.insert_events([event(existing)])
    a, b, c, d = uuid4(), uuid4(), uuid4(), uuid4()
    held = Held(ledger.recorder, monkeypatch)
    held.save("first", [event(uuid4())])
    held.save("a", [event(a, state=b'{"who": "a"}')])
    held.save("b+c", [event(b), event(c), event(c, 2)])
    held.save("a again", [event(a, state=b'{"who": "a again"}'), event(uuid4())])
    held.save("existing", [event(d), event(existing)])  # d is not written either
    held.save("d", [event(d, state=b'{"who": "d"}')])
    results = held.finish()

    assert held.sizes == [1, 5]  # the five queued saves shared one transaction
    assert isinstance(results["a again"], IntegrityError)
    assert isinstance(results["existing"], IntegrityError)
    positions = [results[name] for name in ("first", "a", "b+c", "d")]
    assert [len(p) for p in positions] == [1, 1, 3, 1]
    flat = [p for each in positions for p in each]
    assert flat == sorted(flat)  # each save's own positions, contiguous, in queue order
    assert positions[2] == [positions[1][0] + 1, positions[1][0] + 2, positions[1][0] + 3]
    assert stored(ledger, a) == [(1, b'{"who": "a"}')]
    assert stored(ledger, d) == [(1, b'{"who": "d"}')]
    assert [v for v, _ in stored(ledger, c)] == [1, 2]
    assert len(stored(ledger, existing)) == 1
    assert chain_intact(ledger, store_url)


def test_a_save_that_breaks_the_batch_is_written_alone_and_fails_alone(
    ledger, store_url, monkeypatch
):
    rows = chain.chain_rows

    def fragile(previous: Any, events: Any, positions: Any) -> Any:
        if any(e.state == b"poison" for e in events):
            raise ValueError("cannot chain this")
        return rows(previous, events, positions)

    monkeypatch.setattr(chain, "chain_rows", fragile)
    good, bad, also = uuid4(), uuid4(), uuid4()
    held = Held(ledger.recorder, monkeypatch)
    held.save("first", [event(uuid4())])
    held.save("good", [event(good)])
    held.save("bad", [event(bad, state=b"poison")])
    held.save("also", [event(also)])
    results = held.finish()

    assert held.sizes == [1, 3, 1, 1, 1]  # the batch failed, then each save alone
    assert isinstance(results["bad"], ValueError)
    assert len(results["good"]) == len(results["also"]) == 1
    assert stored(ledger, bad) == []
    assert len(stored(ledger, good)) == len(stored(ledger, also)) == 1
    assert chain_intact(ledger, store_url)


class Crash(BaseException):
    """The process being stopped in the middle of a batch's transaction."""


def test_a_crash_in_the_middle_of_a_batch_leaves_nothing_of_it_written(
    ledger, store_url, monkeypatch
):
    rows = chain.chain_rows

    def crashing(previous: Any, events: Any, positions: Any) -> Any:
        if len(events) > 1:  # the batch: its events are inserted, its links not yet
            raise Crash()
        return rows(previous, events, positions)

    monkeypatch.setattr(chain, "chain_rows", crashing)
    batch = [uuid4(), uuid4(), uuid4()]
    held = Held(ledger.recorder, monkeypatch)
    held.save("first", [event(uuid4())])
    for n, aggregate in enumerate(batch):
        held.save(str(n), [event(aggregate)])
    results = held.finish()

    errors = [results[str(n)] for n in range(3)]
    assert sum(isinstance(e, Crash) for e in errors) == 1  # the thread that was writing
    assert all(isinstance(e, (Crash, PersistenceError)) for e in errors)
    assert all(stored(ledger, aggregate) == [] for aggregate in batch)
    assert chain_intact(ledger, store_url)
    after = uuid4()
    ledger.recorder.insert_events([event(after)])  # the store goes on
    assert len(stored(ledger, after)) == 1
    assert chain_intact(ledger, store_url)


def test_concurrent_allocations_through_the_ledger_never_over_allocate(ledger, store_url):
    customer(ledger)
    payment = completed_payment(ledger, amount="100.00")
    invoices = [issued_invoice(ledger, net="10.00") for _ in range(12)]  # 12.00 each
    start = threading.Barrier(len(invoices))
    outcomes: list[str] = []

    def allocate(invoice: Any) -> None:
        start.wait()
        try:
            ledger.allocate(payment, [(invoice, D("10.00"))], "t")
            outcomes.append("allocated")
        except OverAllocation:
            outcomes.append("refused")

    run_all([lambda invoice=invoice: allocate(invoice) for invoice in invoices])

    assert sorted(outcomes) == ["allocated"] * 10 + ["refused"] * 2
    assert ledger.payment(payment).allocated == D("100.00")
    assert sum((ledger.invoice(i).allocated for i in invoices), D(0)) == D("100.00")
    assert chain_intact(ledger, store_url)


def run_all(bodies: list[Callable[[], None]]) -> None:
    errors: list[BaseException] = []

    def guarded(body: Callable[[], None]) -> None:
        try:
            body()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=guarded, args=(body,)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    if errors:
        raise errors[0]


def test_the_log_after_a_batch_with_a_conflict_reads_every_written_event_once_in_order(
    ledger, store_url, monkeypatch
):
    """A refused save's events take no place in the log: the notification log reads the
    batch's written events, in queue order, then what is saved after it, and nothing else."""
    existing = uuid4()
    ledger.recorder.insert_events([event(existing)])
    before = ledger.recorder.max_notification_id() or 0
    a, b, c = uuid4(), uuid4(), uuid4()
    held = Held(ledger.recorder, monkeypatch)
    held.save("first", [event(uuid4())])
    held.save("a", [event(a)])
    held.save("refused", [event(uuid4()), event(uuid4()), event(existing)])
    held.save("b", [event(b), event(b, 2)])
    results = held.finish()
    assert isinstance(results["refused"], IntegrityError)
    after = ledger.recorder.insert_events([event(c)])

    log = ledger.recorder.select_notifications(before + 1, 100)
    ids = [n.id for n in log]
    assert ids == sorted(set(ids))
    assert ids == results["first"] + results["a"] + results["b"] + after
    written = [(UUID(str(n.originator_id)), n.originator_version) for n in log[1:]]
    assert written == [(a, 1), (b, 1), (b, 2), (c, 1)]
    assert chain_intact(ledger, store_url)


def test_a_batch_whose_every_save_conflicts_writes_nothing_and_the_store_goes_on(
    ledger, store_url, monkeypatch
):
    existing = uuid4()
    ledger.recorder.insert_events([event(existing)])
    held = Held(ledger.recorder, monkeypatch)
    held.save("first", [event(uuid4())])
    held.save("one", [event(uuid4()), event(existing)])
    held.save("two", [event(existing, state=b'{"who": "two"}')])
    results = held.finish()

    assert held.sizes == [1, 2]
    assert isinstance(results["one"], IntegrityError)
    assert isinstance(results["two"], IntegrityError)
    assert stored(ledger, existing) == [(1, b'{"n": 1}')]
    after = uuid4()
    ledger.recorder.insert_events([event(after)])
    assert len(stored(ledger, after)) == 1
    assert chain_intact(ledger, store_url)


def test_a_batch_keeps_every_byte_of_its_events(ledger, store_url, monkeypatch):
    awkward = [
        b"\x00\x01\\x00 'quoted' \"double\" {braces,commas} \xff",
        '{"name": "Café \\u00e9 \'O\'Brien\'s"}'.encode(),
        b"",
    ]
    aggregates = [uuid4() for _ in awkward]
    held = Held(ledger.recorder, monkeypatch)
    held.save("first", [event(uuid4())])
    for aggregate, state in zip(aggregates, awkward, strict=True):
        held.save(str(aggregate), [event(aggregate, state=state), event(aggregate, 2, state)])
    results = held.finish()

    assert held.sizes == [1, 3]
    assert all(len(results[str(a)]) == 2 for a in aggregates)
    for aggregate, state in zip(aggregates, awkward, strict=True):
        assert stored(ledger, aggregate) == [(1, state), (2, state)]
        assert [e.topic for e in ledger.recorder.select_events(aggregate)] == [TOPIC, TOPIC]
    assert chain_intact(ledger, store_url)
