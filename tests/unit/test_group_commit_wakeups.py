"""GroupCommit wakes only the callers of a written batch and the next writer: with a queue
longer than a batch and many threads, every save is written exactly once, no batch exceeds
its limit and no caller is left waiting."""

from __future__ import annotations

import itertools
import threading
import time
from uuid import uuid4

from eventsourcing.persistence import StoredEvent

from adapters.store.group_commit import GroupCommit, Save


def test_many_callers_and_a_queue_longer_than_a_batch_all_finish() -> None:
    positions = itertools.count(1)
    sizes: list[int] = []

    def write(saves: list[Save]) -> None:
        sizes.append(len(saves))
        time.sleep(0.001)  # a transaction's round trips: the queue grows meanwhile
        for save in saves:
            save.positions = [next(positions) for _ in save.events]

    group = GroupCommit(write, max_batch=3)
    results: dict[tuple[int, int], object] = {}

    def caller(thread: int) -> None:
        for n in range(15):
            event = StoredEvent(uuid4(), 1, "t", b"{}")
            results[(thread, n)] = group.submit([event])

    threads = [threading.Thread(target=caller, args=(t,)) for t in range(25)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(thread.is_alive() for thread in threads)
    assert len(results) == 25 * 15
    written = sorted(p for each in results.values() for p in each)  # type: ignore[attr-defined]
    assert written == list(range(1, 25 * 15 + 1))  # each save once, none lost
    assert max(sizes) <= 3
    assert sum(sizes) == 25 * 15
    assert group._waiting == {}  # every caller has left
