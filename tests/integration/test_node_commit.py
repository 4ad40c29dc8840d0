"""Group commit across the tenants of one PostgreSQL node (adapters/store/node_commit.py): saves
of several tenants' stores queued together are written in one transaction, each keeping its
own store, lock, version check, chain, positions and atomicity; a tenant whose table is busy
elsewhere never holds up another's save. SQLite stores (a file each) never share."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError, PersistenceError, StoredEvent

from adapters.audit import verify_store
from adapters.config import build_ledger
from adapters.ledger.application import Ledger
from adapters.store import chain
from adapters.store.database import Database
from tests.conftest import PG_ADMIN_URL, _pg_connect

TOPIC = "tests.integration.test_node_commit:Thing"


def event(aggregate: UUID, version: int = 1, state: bytes = b'{"n": 1}') -> StoredEvent:
    return StoredEvent(
        originator_id=aggregate, originator_version=version, topic=TOPIC, state=state
    )


@pytest.fixture
def tenants() -> Iterator[list[tuple[Ledger, str]]]:
    """Two tenants' ledgers on the ``test`` database (a schema each), opened and in use."""
    schemas = [f"n_{uuid.uuid4().hex[:12]}" for _ in range(2)]
    sep = "&" if "?" in PG_ADMIN_URL else "?"
    urls = [f"{PG_ADMIN_URL}{sep}schema={schema}" for schema in schemas]
    with _pg_connect():
        pass  # skips (or fails on CI) without PostgreSQL
    ledgers = [build_ledger(url) for url in urls]
    for ledger in ledgers:
        ledger.settings()  # opens the store's pool: the store is in use
    try:
        yield list(zip(ledgers, urls, strict=True))
    finally:
        for ledger in ledgers:
            ledger.close()
        with _pg_connect() as conn:
            for schema in schemas:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def stored(ledger: Ledger, aggregate: UUID) -> list[tuple[int, bytes]]:
    return [(e.originator_version, e.state) for e in ledger.recorder.select_events(aggregate)]


def log_of(ledger: Ledger) -> list[tuple[int, UUID]]:
    return [
        (n.id, UUID(str(n.originator_id)))
        for n in ledger.recorder.select_notifications(1, 1000)
    ]


def chain_intact(ledger: Ledger, url: str) -> bool:
    findings, _ = verify_store(ledger, Database.from_url(url))
    return findings == []


def eventually(condition: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + 20
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


class Held:
    """Holds the node's next transaction open until ``release`` (one transaction at a time):
    saves made meanwhile queue up and are written together in the one after it. ``parts``:
    the number of stores of each transaction."""

    def __init__(self, recorder: Any, monkeypatch: pytest.MonkeyPatch, flights: int = 1):
        self.results: dict[str, Any] = {}
        self.threads: dict[str, threading.Thread] = {}
        self.node = recorder.node
        self.entered, self.released = threading.Event(), threading.Event()
        self.parts: list[int] = []
        monkeypatch.setattr(self.node, "flights", flights)
        monkeypatch.setattr(self.node, "_write_parts", self._gated(self.node._write_parts))

    def _gated(self, write: Any) -> Any:
        def gated(parts: list[Any]) -> None:
            first = not self.parts
            self.parts.append(len(parts))
            if first:  # the first transaction stays open until release
                self.entered.set()
                assert self.released.wait(20)
            write(parts)

        return gated

    def save(self, name: str, ledger: Ledger, events: list[StoredEvent], queued: bool = True):
        """Save ``events`` in ``ledger``'s store from a thread of its own; wait until the save
        is queued (``queued``), or, for the first, until its transaction is open."""
        before = len(self.node._queue)
        thread = threading.Thread(target=self._record, args=(name, ledger, events))
        self.threads[name] = thread
        thread.start()
        if len(self.threads) == 1:
            assert self.entered.wait(20)
        elif queued:
            assert eventually(lambda: len(self.node._queue) > before)

    def _record(self, name: str, ledger: Ledger, events: list[StoredEvent]) -> None:
        try:
            self.results[name] = ledger.recorder.insert_events(events)
        except BaseException as error:
            self.results[name] = error

    def finish(self) -> dict[str, Any]:
        self.released.set()
        for thread in self.threads.values():
            thread.join(30)
        return self.results


def test_saves_of_two_tenants_share_one_transaction_and_each_keeps_its_own_store(
    tenants, monkeypatch
):
    (a, a_url), (b, b_url) = tenants
    existing = uuid4()
    b.recorder.insert_events([event(existing)])
    assert a.recorder.node is b.recorder.node and a.recorder.node.shared()
    x, y, z = uuid4(), uuid4(), uuid4()
    held = Held(a.recorder, monkeypatch)
    held.save("first", a, [event(uuid4())])
    held.save("a x", a, [event(x), event(x, 2)])
    held.save("b y", b, [event(y)])
    held.save("b conflict", b, [event(z), event(existing)])  # z is not written either
    held.save("a z", a, [event(z, state=b'{"who": "a"}')])
    results = held.finish()

    assert held.parts == [1, 2]  # the queued saves of both tenants: one transaction
    assert isinstance(results["b conflict"], IntegrityError)
    assert results["a x"] == [results["first"][0] + 1, results["first"][0] + 2]
    assert results["a z"] == [results["a x"][1] + 1]
    assert results["b y"] == [2]  # B's own positions: after its one event
    assert [aggregate for _, aggregate in log_of(a)][1:] == [x, x, z]
    assert [aggregate for _, aggregate in log_of(b)] == [existing, y]
    assert stored(a, z) == [(1, b'{"who": "a"}')] and stored(b, z) == []
    assert chain_intact(a, a_url) and chain_intact(b, b_url)


def test_a_tenant_whose_table_is_busy_elsewhere_never_holds_up_another(tenants, monkeypatch):
    (a, a_url), (b, b_url) = tenants
    schema, table = a.recorder.lock_order
    holder = psycopg.connect(PG_ADMIN_URL)  # another process writing A
    holder.execute(f'LOCK TABLE "{schema}"."{table}" IN EXCLUSIVE MODE')
    held = Held(a.recorder, monkeypatch)
    try:
        held.save("first", b, [event(uuid4())])
        held.save("a", a, [event(uuid4())])
        held.save("b", b, [event(uuid4())])
        held.released.set()
        held.threads["b"].join(30)
        held.threads["first"].join(30)
        # B's save is written while A's lock is still held; A's waits for its own lock
        assert len(held.results["b"]) == 1 and held.threads["a"].is_alive()
    finally:
        holder.rollback()
        holder.close()
    results = held.finish()
    assert len(results["a"]) == 1
    assert len(log_of(a)) == 1 and len(log_of(b)) == 2
    assert chain_intact(a, a_url) and chain_intact(b, b_url)


def test_two_transactions_in_flight_never_share_a_store(tenants, monkeypatch):
    """While A's transaction is held open, a save of B is written beside it (a second flight),
    and a save of A waits for A's to end."""
    (a, a_url), (b, b_url) = tenants
    held = Held(a.recorder, monkeypatch, flights=2)
    held.save("a first", a, [event(uuid4())])
    held.save("b", b, [event(uuid4())], queued=False)
    held.threads["b"].join(30)
    assert len(held.results["b"]) == 1  # written while A's transaction is still open
    held.save("a second", a, [event(uuid4())])
    assert "a second" not in held.results  # queued behind A's open transaction
    results = held.finish()
    assert results["a second"] == [results["a first"][0] + 1]
    assert held.parts == [1, 1, 1]
    assert chain_intact(a, a_url) and chain_intact(b, b_url)


def chain_fails(monkeypatch: pytest.MonkeyPatch, state: bytes, error: BaseException) -> None:
    """Making the chain rows of any events holding ``state`` raises ``error`` (their events
    are inserted by then, their links not yet)."""
    rows = chain.chain_rows

    def failing(previous: Any, events: Any, positions: Any) -> Any:
        if any(e.state == state for e in events):
            raise error
        return rows(previous, events, positions)

    monkeypatch.setattr(chain, "chain_rows", failing)


class Crash(BaseException):
    """The process being stopped in the middle of a shared transaction."""


def test_a_crash_in_a_shared_transaction_leaves_nothing_of_it_in_either_store(
    tenants, monkeypatch
):
    (a, a_url), (b, b_url) = tenants
    chain_fails(monkeypatch, b"crash", Crash())
    x, y = uuid4(), uuid4()
    held = Held(a.recorder, monkeypatch)
    held.save("first", a, [event(uuid4())])
    held.save("a", a, [event(x)])
    held.save("b", b, [event(y, state=b"crash")])
    results = held.finish()

    assert held.parts == [1, 2]
    assert all(isinstance(results[n], (Crash, PersistenceError)) for n in ("a", "b"))
    assert stored(a, x) == [] and stored(b, y) == []
    assert chain_intact(a, a_url) and chain_intact(b, b_url)
    after = uuid4()
    b.recorder.insert_events([event(after)])  # the stores go on
    assert len(stored(b, after)) == 1 and chain_intact(b, b_url)


def test_a_failed_shared_transaction_writes_each_save_on_its_own_store(tenants, monkeypatch):
    """A save that breaks the shared transaction fails alone, on its own store's group commit;
    the other tenant's save is written."""
    (a, a_url), (b, b_url) = tenants
    chain_fails(monkeypatch, b"poison", ValueError("cannot chain this"))
    x, y = uuid4(), uuid4()
    held = Held(a.recorder, monkeypatch)
    held.save("first", a, [event(uuid4())])
    held.save("a", a, [event(x, state=b"poison")])
    held.save("b", b, [event(y)])
    results = held.finish()

    assert isinstance(results["a"], ValueError)
    assert len(results["b"]) == 1 and stored(a, x) == []
    assert [aggregate for _, aggregate in log_of(b)] == [y]
    assert chain_intact(a, a_url) and chain_intact(b, b_url)


def test_two_ledgers_of_one_store_are_one_part_of_a_shared_transaction(tenants, monkeypatch):
    """Two ledgers of one tenant's store in one process (as two processes would be) write
    from one chain head under one lock: the chain stays whole."""
    (a, a_url), (b, b_url) = tenants
    again = build_ledger(a_url)
    try:
        again.settings()
        held = Held(a.recorder, monkeypatch)
        held.save("first", b, [event(uuid4())])
        held.save("a", a, [event(uuid4())])
        held.save("a again", again, [event(uuid4())])
        held.save("b", b, [event(uuid4())])
        results = held.finish()
        assert held.parts == [1, 2]
        assert results["a again"] == [results["a"][0] + 1]
        assert chain_intact(a, a_url) and chain_intact(b, b_url)
    finally:
        again.close()


def test_a_store_alone_on_its_node_writes_on_its_own_group_commit(tenants):
    (a, _), (b, b_url) = tenants
    a.close()
    assert not b.recorder.node.shared()
    assert b.recorder.insert_events([event(uuid4())]) == [1]
    assert chain_intact(b, b_url)


def test_sqlite_tenants_share_nothing(tmp_path):
    ledgers = [build_ledger(f"sqlite:///{tmp_path}/tenant_{n}.sqlite") for n in range(2)]
    try:
        assert all(getattr(ledger.recorder, "node", None) is None for ledger in ledgers)
        done = [ledger.recorder.insert_events([event(uuid4())]) for ledger in ledgers]
        assert done == [[1], [1]]
    finally:
        for ledger in ledgers:
            ledger.close()
