"""Group commit: saves made at the same moment by different threads share one transaction.

Every save takes the store's single write lock (SQLite's writer; the PostgreSQL recorder's
EXCLUSIVE lock on the events table) and waits for its commit to reach the disk. Under twenty
concurrent API clients that lock is the queue: each request waited for every save ahead of it,
one transaction and one disk flush each. Here the saves queued behind a running transaction are
written together in the next one — one lock, one flush — as soon as it ends (no timer: a lone
save is written at once).

Each save keeps what it had alone:

- **its own optimistic concurrency check**: the batch's writer finds, under the write lock,
  which of the batch's (aggregate, version) pairs the store already holds, or an earlier save
  of the same batch takes; a save with any of them fails alone with the store's
  ``IntegrityError`` (exactly the uniqueness the events table enforces), and the others are
  written;
- **its own result**: the positions of its own events, contiguous and in its own order;
- **atomicity**: a save's events are written all together or not at all. If the batch's
  transaction fails as a whole (anything but the per-save conflict above), nothing of it was
  committed, and each save is written again alone in its own transaction, so one failing save
  never takes the others down. A failure that is not an ``Exception`` (the process being
  stopped) fails every save of the batch and rolls the transaction back: nothing half-written.

The stores' recorders (``adapters/store/chain.py``) provide ``write``: one transaction for a
list of saves, setting each ``Save``'s ``positions`` or ``error``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from eventsourcing.persistence import IntegrityError, PersistenceError, StoredEvent

#: the most saves one transaction takes (a long queue is written in several)
MAX_BATCH = 200


@dataclass(eq=False)
class Save:
    """One caller's ``insert_events``: its events, then its positions or its error."""

    events: Sequence[StoredEvent]
    positions: Sequence[int] | None = None
    error: BaseException | None = None
    done: bool = field(default=False)


def conflicts(saves: Sequence[Save], stored: set[tuple[str, int]]) -> list[Save]:
    """The saves that can be written, in order; each of the others gets an IntegrityError.

    ``stored`` holds the (aggregate id, version) pairs of the batch the store already has (ids
    as ``str`` of the UUID); a save taking one of them, one an earlier save of the batch takes,
    or one twice, conflicts — what the events table's unique key would refuse."""
    taken = set(stored)
    accepted = []
    for save in saves:
        keys = [(str(event.originator_id), event.originator_version) for event in save.events]
        if len(set(keys)) < len(keys) or any(key in taken for key in keys):
            clash = next((key for key in keys if key in taken), keys[0])
            save.error = IntegrityError(
                f"aggregate {clash[0]} already has version {clash[1]} (another save got there"
                " first)"
            )
            continue
        taken.update(keys)
        accepted.append(save)
    return accepted


class GroupCommit:
    """Leader/follower batching of one recorder's ``insert_events`` calls.

    A caller queues its save; if no transaction is running it becomes the writer and writes
    the whole queue (up to ``max_batch``) in one; otherwise it waits until a writer has written
    its save, or the writer's transaction ends and it may write the queue itself."""

    def __init__(self, write: Callable[[list[Save]], None], max_batch: int = MAX_BATCH) -> None:
        self._write = write
        self.max_batch = max_batch
        self._cond = threading.Condition()
        self._queue: list[Save] = []
        self._writing = False

    def submit(self, events: Sequence[StoredEvent]) -> Sequence[int] | None:
        """Write ``events`` (one save, atomically) and return their positions."""
        save = Save(events)
        with self._cond:
            self._queue.append(save)
        while True:
            with self._cond:
                while self._writing and not save.done:
                    self._cond.wait()
                if save.done:
                    break
                self._writing = True
                batch = self._queue[: self.max_batch]
                del self._queue[: self.max_batch]
            try:
                self._run(batch)
            finally:
                with self._cond:
                    self._writing = False
                    self._cond.notify_all()
        if save.error is not None:
            raise save.error
        return save.positions

    def _run(self, batch: list[Save]) -> None:
        try:
            self._write(batch)
        except Exception as error:
            # nothing of the batch was committed: each save again, alone
            if len(batch) == 1:
                batch[0].error = error
            else:
                for save in batch:
                    save.positions, save.error = None, None
                    try:
                        self._write([save])
                    except Exception as alone:
                        save.error = alone
        except BaseException as error:
            for save in batch:
                save.positions = None
                save.error = PersistenceError(f"the save was interrupted: {error!r}")
            raise
        finally:
            for save in batch:
                save.done = True
