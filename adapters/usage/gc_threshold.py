"""Fewer cyclic garbage collections while a billing run makes its invoices.

A run keeps every invoice's lines (the report) while it makes tens of thousands of short-lived
objects a line (pydantic models, Decimals, dicts): at the default threshold (a collection
every 700 new objects) the collector ran ~470 times in a 1,000-invoice run, and its full
collections walked the growing heap again each time: ~0.3 core-seconds, a fifth of the run's
Python (docs/performance.md, "Billing run"). A higher first threshold keeps collecting
cycles, only less often; reference counting frees everything else as before.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

#: New objects between young collections during a run (the interpreter's default is 700).
RUN_THRESHOLD = 50_000

_lock = threading.Lock()
_holders = 0
_saved: tuple[int, int, int] = (0, 0, 0)


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Raise the collector's first threshold for the block. The threshold is the process's:
    runs that overlap (threads) share one raise, and the last to finish puts back what the
    first found."""
    global _holders, _saved
    with _lock:
        if _holders == 0:
            _saved = gc.get_threshold()
            if _saved[0] and _saved[0] < RUN_THRESHOLD:  # 0: collection is off; leave it
                gc.set_threshold(RUN_THRESHOLD, *_saved[1:])
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0:
                gc.set_threshold(*_saved)
