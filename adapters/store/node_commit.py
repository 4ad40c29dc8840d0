"""Group commit across the tenants of one PostgreSQL node, in one process.

A tenant is a schema of its node's database (docs/scaling.md). Each tenant's recorder batches
its own concurrent saves (group_commit.py), but four tenants' writers on one node each paid a
transaction of their own for every save — its round trips, its ~1 ms of fixed Python, its
commit — where one tenant's four writers shared theirs: four tenants wrote ~0.85 times as fast as
one. Here the saves of every tenant of a node that arrive together share one transaction.

What each tenant keeps:

- **its own data**: every statement names the tenant's own schema and tables; a batch only
  puts several tenants' statements in one transaction, on one connection of the node (the
  same server, database and role: stores whose connection settings differ in anything but
  the schema are never batched together);
- **its own lock, never another's**: the batch takes the tenants' EXCLUSIVE table locks in one
  order (schema, table) and with ``NOWAIT``. If any is held elsewhere (another process writing
  that tenant), nothing is written and each save goes its own tenant's way (its own group
  commit, which waits for its own lock only): a tenant's writes never wait for another
  tenant's lock, as before;
- **its own optimistic checks, chain and positions**: found and written per tenant under that
  tenant's lock, as ``GroupCommit`` does for one store;
- **atomicity**: a save is written whole or not at all; if the shared transaction fails for
  any reason, none of it was committed and every save is written again on its own tenant's
  group commit (which writes a save alone if its batch fails).

Only while two or more stores of the node are open in the process does a save go this way; a
process serving one tenant writes exactly as before.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Hashable, Sequence
from typing import Protocol

from eventsourcing.persistence import StoredEvent

from adapters.store.group_commit import MAX_BATCH, Save, finishing

#: transactions of one node written at the same time (on different stores): while one waits
#: for its commit's flush, the next is sent
FLIGHTS = 2


class NotShared(Exception):
    """The shared batch was not written (nothing of it committed): write the save alone."""


class Member(Protocol):
    """A store of the node (chain_postgres.ChainedPostgresRecorder)."""

    #: (schema, table): the order in which a shared batch takes the tables' locks
    lock_order: tuple[str, str]

    def in_use(self) -> bool:
        """Whether the store is open (a closed or never used store writes nothing)."""

    def submit_alone(self, events: Sequence[StoredEvent]) -> Sequence[int] | None:
        """Write ``events`` on the store's own group commit."""


#: writes one transaction for the saves of one or more members, in lock order
WriteParts = Callable[[list[tuple[Member, list[Save]]]], None]


class NodeCommit:
    """Leader/follower batching of the saves of every member store of one node.

    A caller queues its save; while fewer than ``flights`` transactions are running, it takes
    the queued saves of every store no running transaction holds (up to ``max_batch``) and
    writes them in one; otherwise it waits until its save is written, or it may write the
    queue itself. Two transactions in flight never share a store: each holds its stores'
    locks, and while one waits for its commit to reach the disk the other is written."""

    def __init__(
        self, write: WriteParts, flights: int = FLIGHTS, max_batch: int = MAX_BATCH
    ) -> None:
        self._write_parts = write
        self.flights = flights
        self.max_batch = max_batch
        self._cond = threading.Condition()
        self._queue: list[Save] = []
        self._busy: set[tuple[str, str]] = set()  # the tables of the transactions in flight
        self._running = 0
        self._members: weakref.WeakSet[Member] = weakref.WeakSet()

    def join(self, member: Member) -> None:
        with self._cond:
            self._members.add(member)

    def shared(self) -> bool:
        """Whether two or more of the node's stores are open here (else sharing has nothing to
        gain, and a store writes on its own group commit as it always did)."""
        with self._cond:
            members = list(self._members)
        return len({member.lock_order for member in members if member.in_use()}) >= 2

    def submit(self, member: Member, events: Sequence[StoredEvent]) -> Sequence[int] | None:
        """Write ``events`` (one save of ``member``, atomically) and return their positions."""
        save = Save(events, owner=member)
        with self._cond:
            self._queue.append(save)
            while not save.done:
                batch = self._take()
                if batch is None:
                    self._cond.wait()
                    continue
                self._cond.release()
                try:
                    self._run(batch)
                finally:
                    self._cond.acquire()
                    self._running -= 1
                    self._busy.difference_update(save.owner.lock_order for save in batch)
                    self._cond.notify_all()
        if isinstance(save.error, NotShared):
            return member.submit_alone(events)
        if save.error is not None:
            raise save.error
        return save.positions

    def _take(self) -> list[Save] | None:
        """The next batch (marked running), or None. Called holding the condition."""
        if self._running >= self.flights:
            return None
        free = [save for save in self._queue if save.owner.lock_order not in self._busy]
        batch = free[: self.max_batch]
        if not batch:
            return None
        taken = set(map(id, batch))
        self._queue = [save for save in self._queue if id(save) not in taken]
        self._running += 1
        self._busy.update(save.owner.lock_order for save in batch)
        return batch

    def _run(self, batch: list[Save]) -> None:
        # by table, not by store object: two ledgers of one store (as two processes would
        # be) are one part, written under one lock from one chain head
        parts: dict[tuple[str, str], tuple[Member, list[Save]]] = {}
        for save in batch:
            parts.setdefault(save.owner.lock_order, (save.owner, []))[1].append(save)
        ordered = [parts[table] for table in sorted(parts)]
        with finishing(batch):
            try:
                self._write_parts(ordered)
            except Exception as error:
                # rolled back as a whole: every save again, on its own tenant's group commit
                for save in batch:
                    save.positions = None
                    save.error = NotShared(f"the node's shared batch was not written: {error!r}")


_nodes: dict[Hashable, NodeCommit] = {}
_nodes_lock = threading.Lock()


def node_commit(key: Hashable, write: WriteParts) -> NodeCommit:
    """The process's one ``NodeCommit`` for the stores whose connections ``key`` names."""
    with _nodes_lock:
        node = _nodes.get(key)
        if node is None:
            node = _nodes[key] = NodeCommit(write)
        return node
