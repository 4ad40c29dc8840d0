"""The exporter's own retry and rate-limit policy (the SDKs' hidden retries are switched off).

Every remote call goes through ``CallPolicy.call``: it waits for the rate limiter, then retries
transient failures (429, 5xx, timeouts) with exponential back-off, honouring ``Retry-After``.
Clock and sleep are injected so tests run in milliseconds and production waits for real.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import structlog

from adapters.accounting.errors import NotAuthorised, RemoteUnavailable

T = TypeVar("T")
log = structlog.get_logger("tollbook.export")


@dataclass
class RateLimiter:
    """At most ``calls`` calls in any ``per_seconds`` window (a sliding window of call times)."""

    calls: int
    per_seconds: float = 60.0
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    _sent: deque[float] = field(default_factory=deque)

    def acquire(self) -> None:
        if self.calls <= 0:
            return
        now = self.clock()
        while self._sent and now - self._sent[0] >= self.per_seconds:
            self._sent.popleft()
        if len(self._sent) >= self.calls:
            wait = self.per_seconds - (now - self._sent[0])
            log.info("rate limit: waiting", seconds=round(wait, 3))
            self.sleep(wait)
            now = self.clock()
            self._sent.popleft()
        self._sent.append(now)


@dataclass
class CallPolicy:
    """Retry transient failures; give up after ``max_attempts`` and let the run stop cleanly."""

    max_attempts: int = 6
    base_delay: float = 1.0
    max_delay: float = 60.0
    sleep: Callable[[float], None] = time.sleep
    limiter: RateLimiter | None = None
    waits: list[float] = field(default_factory=list)  # every wait taken, for status and tests

    def call(self, what: str, operation: Callable[[], T]) -> T:
        attempt = 1
        while True:
            if self.limiter is not None:
                self.limiter.acquire()
            try:
                return operation()
            except RemoteUnavailable as error:
                if attempt >= self.max_attempts or isinstance(error, NotAuthorised):
                    raise
                delay = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
                if error.retry_after is not None:
                    delay = max(error.retry_after, 0.0)
                log.info(
                    "remote unavailable, backing off",
                    call=what,
                    attempt=attempt,
                    seconds=delay,
                    error=str(error),
                )
                self.waits.append(delay)
                self.sleep(delay)
                attempt += 1
